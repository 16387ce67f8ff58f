"""Stacked (bi)directional recurrent layers over the column features."""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """A stacked RNN reading ``(T, B, input_size)`` into ``(T, B, hidden_size * directions)``.

    Args:
        cell: ``rnn`` (vanilla tanh), ``lstm`` or ``gru``.
        input_size: feature size per time step.
        hidden_size: hidden units per direction.
        num_layers: stacked layers.
        bidirectional: read the sequence both ways and concatenate.
        dropout: dropout between stacked layers.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"rnn.cell must be one of {sorted(CELLS)}, got {cell!r}")
        extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **extra,
        )
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Run the RNN; with ``lengths`` the padded steps never reach the valid ones."""
        if lengths is None or bool((lengths == x.shape[0]).all()):
            return self.rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], total_length=x.shape[0])
        return out


