"""The unrolled RNN: same numbers as torch's fused kernels, truncated BPTT, initialisations."""
import pytest
import torch

from ocr.models.sequence import SequenceModel

T, B, D, H = 9, 3, 5, 4


def pair(cell: str, **kwargs) -> tuple[SequenceModel, SequenceModel]:
    torch.manual_seed(0)
    fused = SequenceModel(cell, D, H, num_layers=2, bidirectional=True, **kwargs)
    unrolled = SequenceModel(cell, D, H, num_layers=2, bidirectional=True, impl="unrolled", **kwargs)
    unrolled.load_state_dict(fused.state_dict())
    return fused, unrolled


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("lengths", [None, [9, 5, 2]])
def test_unrolled_matches_fused_outputs_and_gradients(cell, lengths):
    fused, unrolled = pair(cell)
    lengths = None if lengths is None else torch.tensor(lengths)
    x = torch.randn(T, B, D, requires_grad=True)
    target = torch.randn(T, B, 2 * H)
    results = []
    for model in (fused, unrolled):
        x.grad = None
        out = model(x, lengths)
        ((out - target) ** 2).sum().backward()
        results.append((out.detach(), x.grad.clone(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (out_f, dx_f, dp_f), (out_u, dx_u, dp_u) = results
    assert torch.allclose(out_f, out_u, atol=1e-5)
    assert torch.allclose(dx_f, dx_u, atol=1e-5)
    for name in dp_f:
        assert torch.allclose(dp_f[name], dp_u[name], atol=1e-5), name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_truncated_bptt_cuts_gradients_exactly_k_steps_apart(cell, bidirectional):
    k, steps = 3, 10
    torch.manual_seed(0)
    full = SequenceModel(cell, D, H, num_layers=1, bidirectional=bidirectional, impl="unrolled")
    cut = SequenceModel(cell, D, H, num_layers=1, bidirectional=bidirectional, impl="unrolled", tbptt_steps=k)
    cut.load_state_dict(full.state_dict())
    x = torch.randn(steps, 1, D)
    for direction in range(2 if bidirectional else 1):
        # chunk of step t as each direction reads it: forward from step 0, backward from the last step
        chunk = (lambda t: t // k) if direction == 0 else (lambda t: (steps - 1 - t) // k)
        for s in range(steps):  # the loss sits at step s of this direction's output
            grads = []
            for model in (full, cut):
                xs = x.clone().requires_grad_(True)
                model(xs)[s, 0, direction * H : (direction + 1) * H].sum().backward()
                grads.append(xs.grad[:, 0].norm(dim=-1))
            g_full, g_cut = grads
            for t in range(steps):
                if chunk(t) == chunk(s):
                    assert torch.allclose(g_cut[t], g_full[t], atol=1e-6)  # everything from within
                else:
                    assert g_cut[t] == 0  # nothing from across a cut, so nothing from k or more away
                if abs(s - t) >= k:
                    assert g_cut[t] == 0


def test_truncated_bptt_needs_the_unrolled_implementation():
    with pytest.raises(ValueError, match="tbptt_steps needs rnn.impl=unrolled"):
        SequenceModel("lstm", D, H, tbptt_steps=4)


def test_orthogonal_and_identity_initialisation():
    model = SequenceModel("gru", D, H, init="orthogonal", init_gain=2.0)
    for gate in model.rnn.weight_hh_l0.split(H):
        assert torch.allclose(gate @ gate.T, 4.0 * torch.eye(H), atol=1e-5)
    irnn = SequenceModel("rnn", D, H, impl="unrolled", init="identity")
    assert torch.equal(irnn.rnn.weight_hh_l1_reverse, torch.eye(H)) and not irnn.rnn.bias_hh_l0.any()
    with pytest.raises(ValueError, match="IRNN"):
        SequenceModel("lstm", D, H, init="identity")


def test_lstm_forget_gate_bias():
    model = SequenceModel("lstm", D, H, forget_bias=1.0)
    for layer in ("l0", "l1_reverse"):
        total = getattr(model.rnn, f"bias_ih_{layer}") + getattr(model.rnn, f"bias_hh_{layer}")
        assert torch.all(total[H : 2 * H] == 1.0)


def test_hidden_gradient_probes_record_every_step():
    _, unrolled = pair("rnn")
    unrolled.rnn.record_hidden_grads = True
    unrolled(torch.randn(T, B, D))[-1].sum().backward()
    norms = unrolled.rnn.hidden_grad_norms
    assert set(norms) == {"l0_fwd", "l0_bwd", "l1_fwd", "l1_bwd"}
    assert all(len(v) == T for v in norms.values())
    assert norms["l1_fwd"][-1] > 0 and norms["l1_bwd"][0] == 0  # the loss reads only the last step


def test_gradient_flow_monitor_logs_every_step_and_draws_plots(tmp_path):
    import csv

    from ocr.train.wiring import train
    from tests.conftest import tiny_config

    cfg = tiny_config("rnn.impl=unrolled", "gradient_monitor.every_n_steps=2", "trainer.gradient_clip_val=0.01",
                      "model.input.min_width=64", "model.input.max_width=64")
    train(cfg, tmp_path)
    with open(tmp_path / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("grad_norm_before/backbone")]
    assert [int(r["step"]) for r in rows] == [0, 2]
    steps = 64 // 4 + 1
    for row in rows:
        for name in ("l0_fwd", "l0_bwd", "l1_fwd", "l1_bwd"):
            assert all(float(row[f"grad_h/{name}/t{t:03d}"]) > 0 for t in range(steps))
        after = [float(row[f"grad_norm_after/{g}"]) for g in ("backbone", "sequence", "classifier")]
        assert sum(a * a for a in after) ** 0.5 <= 0.01 + 1e-6  # clipped by total norm
        assert float(row["grad_norm_before/backbone"]) > float(row["grad_norm_after/backbone"])
    for png in ("hidden_grad_heatmap.png", "hidden_grad_last.png", "param_grad_norms.png"):
        assert (tmp_path / "gradients" / png).stat().st_size > 1000


def test_gradient_reach_decays_with_distance_for_a_contracting_rnn():
    from ocr.models import build_model
    from ocr.train.diagnostics import gradient_reach

    torch.manual_seed(0)
    rnn = {"cell": "rnn", "hidden_size": 8, "num_layers": 1, "impl": "unrolled", "init": "orthogonal", "init_gain": 0.5}
    model = build_model(5, {"input": {"channels": 1}, "backbone": {"width_mult": 0.125}}, rnn)
    reach = gradient_reach(model, torch.randn(2, 1, 32, 128), torch.tensor([128, 128]))
    fwd = reach["l0_fwd"]
    assert len(fwd) == 128 // 4 + 1 and fwd[-1] > 0
    # ||W_hh|| = 0.5 and tanh' <= 1: 19 steps back, at most 0.5 ** 19 of the gradient is left
    assert fwd[-20] <= 0.5**19 * fwd[-1] * 1.001
    with pytest.raises(ValueError, match="unrolled"):
        gradient_reach(build_model(5, {"input": {"channels": 1}, "backbone": {"width_mult": 0.125}},
                                   {**rnn, "impl": "fused"}), torch.randn(1, 1, 32, 64), torch.tensor([64]))
