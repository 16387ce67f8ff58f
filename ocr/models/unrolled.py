"""A stacked (bi)directional RNN written as a plain loop over time steps: BPTT in code.

Parameters have the names and shapes of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
(``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}...``, ``bias_ih_l{k}...``,
``bias_hh_l{k}...``), so a state dict moves freely between this and the fused module,
and with the same weights both give the same outputs and gradients.

Two things the fused modules cannot do:
- truncated BPTT: ``tbptt_steps=k`` detaches the hidden state every ``k`` steps (counted
  from where each direction starts reading), so no gradient crosses those cuts;
- per-step gradient probes: with :attr:`record_hidden_grads` set, the norm of dL/dh_t of
  every layer, direction and step is stored in :attr:`hidden_grad_norms` by backward.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ocr.models.masks import valid_positions

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def rnn_cell(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
    """Vanilla tanh cell; ``x_proj`` is ``W_ih x + b_ih``."""
    return torch.tanh(x_proj + h @ w_hh.T + b_hh)


def lstm_cell(x_proj: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM cell with PyTorch's gate order (input, forget, cell, output)."""
    h, c = state
    i, f, g, o = (x_proj + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_cell(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
    """GRU cell with PyTorch's gate order (reset, update, new)."""
    xr, xz, xn = x_proj.chunk(3, dim=-1)
    hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


class UnrolledRNN(nn.Module):
    """Drop-in for ``nn.RNN/LSTM/GRU`` (sequence-first) that loops over time in Python."""

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
        dropout: float = 0.0, tbptt_steps: int | None = None,
    ) -> None:
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"rnn.cell must be one of {sorted(GATES)}, got {cell!r}")
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.bidirectional, self.dropout, self.tbptt_steps = bidirectional, dropout, tbptt_steps
        self.directions = ("", "_reverse") if bidirectional else ("",)
        rows = GATES[cell] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * len(self.directions)
            for suffix in self.directions:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(rows, layer_input)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", nn.Parameter(torch.empty(rows, hidden_size)))
                self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(rows)))
                self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(rows)))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():  # the fused modules' default initialisation
            nn.init.uniform_(p, -bound, bound)
        self.record_hidden_grads = False
        self.hidden_grad_norms: dict[str, list[float]] = {}

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``(T, B, input)`` -> ``(T, B, hidden * directions)``; steps at or past ``lengths`` give zeros."""
        steps = x.shape[0]
        lengths = torch.full((x.shape[1],), steps, device=x.device) if lengths is None else lengths.to(x.device)
        valid = valid_positions(lengths, steps).T.unsqueeze(-1)  # (T, B, 1)
        self.hidden_grad_norms = {}
        for layer in range(self.num_layers):
            outputs = [self._direction(x, valid, lengths, layer, suffix) for suffix in self.directions]
            x = torch.cat(outputs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout)
        return x

    def _direction(self, x: Tensor, valid: Tensor, lengths: Tensor, layer: int, suffix: str) -> Tensor:
        w_ih, w_hh = getattr(self, f"weight_ih_l{layer}{suffix}"), getattr(self, f"weight_hh_l{layer}{suffix}")
        b_ih, b_hh = getattr(self, f"bias_ih_l{layer}{suffix}"), getattr(self, f"bias_hh_l{layer}{suffix}")
        x_proj = x @ w_ih.T + b_ih  # the input projection of every step at once
        steps, batch = x.shape[:2]
        zeros = x.new_zeros(batch, self.hidden_size)
        state = (zeros, zeros) if self.cell == "lstm" else zeros
        reverse = suffix == "_reverse"
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        name = f"l{layer}{'_bwd' if reverse else '_fwd'}"
        norms = [0.0] * steps
        out = [zeros] * steps
        for t in order:
            state = self._maybe_cut(state, t, lengths, reverse)
            new = self._step(x_proj[t], state, w_hh, b_hh)
            keep = valid[t]  # padded steps leave the state alone (and read as zeros)
            state = tuple(torch.where(keep, n, s) for n, s in zip(new, state)) if self.cell == "lstm" \
                else torch.where(keep, new, state)
            h = state[0] if self.cell == "lstm" else state
            if self.record_hidden_grads and h.requires_grad:
                h.register_hook(_store_norm(norms, t))
            out[t] = torch.where(keep, h, zeros)
        if self.record_hidden_grads:
            self.hidden_grad_norms[name] = norms
        return torch.stack(out)

    def _step(self, x_proj: Tensor, state, w_hh: Tensor, b_hh: Tensor):
        if self.cell == "lstm":
            return lstm_cell(x_proj, state, w_hh, b_hh)
        return (rnn_cell if self.cell == "rnn" else gru_cell)(x_proj, state, w_hh, b_hh)

    def _maybe_cut(self, state, t: int, lengths: Tensor, reverse: bool):
        """Detach the state of every sequence that is ``k``, ``2k``, ... steps into its reading."""
        k = self.tbptt_steps
        if not k:
            return state
        read = (lengths - 1 - t) if reverse else torch.full_like(lengths, t)
        cut = ((read > 0) & (read % k == 0)).unsqueeze(-1)
        if not bool(cut.any()):
            return state
        if self.cell == "lstm":
            return tuple(torch.where(cut, s.detach(), s) for s in state)
        return torch.where(cut, state.detach(), state)


def _store_norm(norms: list[float], t: int):
    def hook(grad: Tensor) -> None:
        norms[t] = grad.norm(dim=-1).mean().item()

    return hook
