"""Stacked (bi)directional recurrent layers over the column features."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ocr.models.unrolled import UnrolledRNN

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INITS = ("default", "orthogonal", "identity")


class SequenceModel(nn.Module):
    """A stacked RNN reading ``(T, B, input_size)`` into ``(T, B, hidden_size * directions)``.

    Args:
        cell: ``rnn`` (vanilla tanh), ``lstm`` or ``gru``.
        input_size: feature size per time step.
        hidden_size: hidden units per direction.
        num_layers: stacked layers.
        bidirectional: read the sequence both ways and concatenate.
        dropout: dropout between stacked layers.
        impl: ``fused`` (torch's nn.RNN/LSTM/GRU) or ``unrolled`` (a Python loop over time,
            same weights and results; needed for ``tbptt_steps`` and per-step gradient probes).
        tbptt_steps: truncated BPTT: cut the gradient through the hidden state every k steps.
        init: recurrent weights: ``default`` (torch's uniform), ``orthogonal`` (per gate),
            or ``identity`` (IRNN, vanilla cell only); both scaled by ``init_gain``.
        forget_bias: LSTM forget-gate bias (1.0 is the classic cure for early forgetting).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.0,
        impl: str = "fused",
        tbptt_steps: int | None = None,
        init: str = "default",
        init_gain: float = 1.0,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if cell not in FUSED:
            raise ValueError(f"rnn.cell must be one of {sorted(FUSED)}, got {cell!r}")
        if impl not in ("fused", "unrolled"):
            raise ValueError(f"rnn.impl must be 'fused' or 'unrolled', got {impl!r}")
        if tbptt_steps and impl != "unrolled":
            raise ValueError("rnn.tbptt_steps needs rnn.impl=unrolled")
        dropout = dropout if num_layers > 1 else 0.0
        if impl == "unrolled":
            self.rnn = UnrolledRNN(cell, input_size, hidden_size, num_layers, bidirectional, dropout, tbptt_steps)
        else:
            extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
            self.rnn = FUSED[cell](input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                                   dropout=dropout, **extra)
        initialise(self.rnn, cell, hidden_size, init, init_gain, forget_bias)
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Run the RNN; with ``lengths`` the padded steps never reach the valid ones."""
        if isinstance(self.rnn, UnrolledRNN):
            return self.rnn(x, lengths)
        if lengths is None or bool((lengths == x.shape[0]).all()):
            return self.rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], total_length=x.shape[0])
        return out


@torch.no_grad()
def initialise(rnn: nn.Module, cell: str, hidden: int, init: str, gain: float, forget_bias: float | None) -> None:
    """Apply the recurrent-weight scheme and the LSTM forget-gate bias to fused or unrolled weights."""
    if init not in INITS:
        raise ValueError(f"rnn.init must be one of {INITS}, got {init!r}")
    if init == "identity" and cell != "rnn":
        raise ValueError("rnn.init=identity (IRNN) is for the vanilla cell: use rnn=rnn")
    if forget_bias is not None and cell != "lstm":
        raise ValueError("rnn.forget_bias is for rnn=lstm")
    for name, p in rnn.named_parameters():
        if name.startswith("weight_hh") and init != "default":
            for gate in p.split(hidden, dim=0):  # one square block per gate
                if init == "orthogonal":
                    nn.init.orthogonal_(gate, gain=gain)
                else:
                    gate.copy_(gain * torch.eye(hidden))
        elif name.startswith("weight_hh") and gain != 1.0:
            p.mul_(gain)
        if forget_bias is not None and name.startswith("bias"):
            forget = p[hidden : 2 * hidden]  # gate order: input, forget, cell, output
            forget.fill_(forget_bias if name.startswith("bias_ih") else 0.0)
        if init == "identity" and name.startswith("bias"):
            p.zero_()

