"""The fused CPU backend: its reductions against closed forms, every family against the dense
reference and against the torch backend, far-apart sets, thread counts, and its guards."""

import math
import os
import subprocess
import sys

import pytest
import torch

from pushforward.fields import compose, dense_field, drift_parts, fused, make_field
from pushforward.fields.dense import drift_field_dense

pytestmark = pytest.mark.skipif(not fused.available(), reason=f"no fused kernels: {fused.reason()}")


def _sets(n, m, d, seed=0, shift=0.6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(m, d, generator=g) + shift


def _logits64(x, y, tau, kernel, bias=None, mask_offset=None):
    """The kernel logits `[n, m]` in float64 from the definition (the closed form)."""
    dist = torch.cdist(x.double(), y.double())
    logits = -dist / tau if kernel == "laplace" else -dist.square() / (2 * tau**2)
    if bias is not None:
        logits = logits + bias.double()
    if mask_offset is not None:
        rows = torch.arange(x.shape[0])
        keep = (rows + mask_offset >= 0) & (rows + mask_offset < y.shape[0])
        logits[rows[keep], (rows + mask_offset)[keep]] = -math.inf
    return logits


@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
@pytest.mark.parametrize("mask_offset", [None, 0, 3])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_reduce_is_the_log_sum_exp_and_softmax_mean(kernel, mask_offset, d):
    x, y = _sets(150, 2500, d)  # more columns than a tile: the online maximum rescales
    bias = torch.randn(2500, generator=torch.Generator().manual_seed(3))
    lse, mean = fused.reduce(x, y, 0.4, kernel, bias=bias, mask_offset=mask_offset, mean=True)
    logits = _logits64(x, y, 0.4, kernel, bias, mask_offset)
    torch.testing.assert_close(lse.double(), logits.logsumexp(1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mean.double(), logits.softmax(1) @ y.double(), rtol=1e-5, atol=1e-5)


def test_reduce_hand_example():
    """One point at the origin, y = (3, 4) and (0, 0), τ = 5: logits −1 and 0."""
    lse, mean = fused.reduce(torch.zeros(1, 2), torch.tensor([[3.0, 4.0], [0.0, 0.0]]), 5.0,
                             "laplace", mean=True)  # fmt: skip
    w = math.exp(-1) / (1 + math.exp(-1))
    assert lse.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    assert mean.flatten().tolist() == pytest.approx([3 * w, 4 * w], rel=1e-6)


def test_reduce_keeps_far_logits_in_log_space():
    """Distances of 1000 temperatures: the exp of every logit underflows, the log-sum does not."""
    x = torch.zeros(3, 2)
    y = torch.tensor([[1000.0, 0.0], [1001.0, 0.0]])
    lse, mean = fused.reduce(x, y, 1.0, "laplace", mean=True)
    assert torch.allclose(lse, torch.full((3,), -1000.0 + math.log(1 + math.exp(-1))))
    assert torch.isfinite(mean).all() and (mean[:, 0] > 1000).all()


@pytest.mark.parametrize("d", [2, 40])  # from the points, and BLAS blocks reduced in place
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("negatives", ["self", "separate", "extra"])
@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
def test_paper_field_fused_equals_torch_backend(d, bidirectional, negatives, kernel):
    x, y = _sets(230, 190, d)
    y_neg = _sets(120, 1, d, seed=1)[0] if negatives == "separate" else None
    extra = {"extra_neg": _sets(40, 1, d, seed=2)[0]} if negatives == "extra" else {}
    kw = dict(temperature=0.3 * math.sqrt(d), kernel=kernel, bidirectional=bidirectional,
              chunk=50, **extra)  # fmt: skip
    ours = compose(*drift_parts(x, y, y_neg, backend="fused", **kw), False)
    torch_ = compose(*drift_parts(x, y, y_neg, backend="torch", **kw), False)
    scale = torch_.abs().max()
    assert (ours - torch_).abs().max() <= 2e-5 * scale


@pytest.mark.parametrize("d", [2, 40])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_paper_field_fused_equals_dense_reference(d, bidirectional):
    x, y = _sets(200, 150, d)
    tau = 0.3 * math.sqrt(d)
    dense = drift_field_dense(x.double(), y.double(), temperature=tau, bidirectional=bidirectional)
    ours = compose(*drift_parts(x, y, temperature=tau, bidirectional=bidirectional,
                                backend="fused"), False)  # fmt: skip
    assert (ours.double() - dense).abs().max() <= 2e-5 * dense.abs().max()


@pytest.mark.parametrize("field", ["sinkhorn", "score-difference", "mmd-gradient"])
@pytest.mark.parametrize("separate_neg", [True, False])
def test_other_families_fused_equal_the_dense_reference(field, separate_neg):
    x, y = _sets(80, 70, 2)
    y_neg = _sets(50, 1, 2, seed=4)[0] if separate_neg else None
    kernel = "laplace" if field == "sinkhorn" else "gaussian"
    kw = dict(temperature=0.5, kernel=kernel, iterations=200)
    dense = dense_field(field, x.double(), y.double(), None if y_neg is None else y_neg.double(),
                        **kw)  # fmt: skip
    for backend in ("fused", "torch"):
        family = make_field(field, kernel=kernel, iterations=200, backend=backend)
        v = compose(*family.parts(x, y, y_neg, 0.5), False)
        assert (v.double() - dense).abs().max() <= 1e-4 * dense.abs().max(), backend


@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
@pytest.mark.parametrize("mask_self", [True, False])
def test_sinkhorn_on_cached_logits_large_d_equals_the_torch_sweeps(kernel, mask_self):
    """Above d = 16 the fused Sinkhorn sweeps stored logits: the same potentials."""
    from pushforward.fields import sinkhorn_potentials

    x, y = _sets(150, 150 if mask_self else 170, 40)
    y = x if mask_self else y
    kw = dict(temperature=4.0, kernel=kernel, iterations=30, mask_self=mask_self, chunk=64)
    f, g = sinkhorn_potentials(x, y, backend="fused", **kw)
    f_t, g_t = sinkhorn_potentials(x, y, backend="torch", **kw)
    torch.testing.assert_close(f, f_t, rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(g, g_t, rtol=1e-5, atol=2e-5)
    field = make_field("sinkhorn", kernel=kernel, iterations=200, backend="fused")
    dense = dense_field("sinkhorn", x.double(), y.double(), None if mask_self else x.double(),
                        temperature=4.0, kernel=kernel, iterations=200)  # fmt: skip
    v = compose(*field.parts(x, y, None if mask_self else x, 4.0), False)
    torch_ = make_field("sinkhorn", kernel=kernel, iterations=200, backend="torch")
    v_t = compose(*torch_.parts(x, y, None if mask_self else x, 4.0), False)
    assert (v - v_t).abs().max() <= 1e-5 * v_t.abs().max()
    # both float32 backends share the BLAS-form logits, whose sqrt near a zero distance (x
    # against itself, unmasked) is off by ~1e-3 of τ: the float64 reference is 3e-4 away
    assert (v.double() - dense).abs().max() <= 1e-3 * dense.abs().max()


def test_lse_over_rows_and_columns_of_stored_logits():
    g = torch.Generator().manual_seed(5)
    v = torch.randn(70, 2300, generator=g) * 40  # wide spread: the maxima matter
    col, row = torch.randn(2300, generator=g), torch.randn(70, generator=g)
    v64 = v.double()
    close = dict(rtol=1e-6, atol=1e-4)  # float32 log-sums of size ~100
    want = (v64 + col.double()).logsumexp(1)
    torch.testing.assert_close(fused.lse(v, 1, col).double(), want, **close)
    want = (v64 + row.double()[:, None]).logsumexp(0)
    torch.testing.assert_close(fused.lse(v, 0, row).double(), want, **close)
    torch.testing.assert_close(fused.lse(v, 0).double(), v64.logsumexp(0), **close)
    with pytest.raises(ValueError, match="dim is 0"):
        fused.lse(v, 2)


@pytest.mark.parametrize("d", [2, 40])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_far_apart_sets_stay_finite_and_point_at_the_data(d, bidirectional):
    """Data 500 temperatures away: the paper field keeps its direction in log space."""
    x, y = _sets(64, 64, d, shift=0.0)
    y = 0.3 * y
    y[:, 0] += 50.0
    b, s = drift_parts(x, y, temperature=0.1, bidirectional=bidirectional, backend="fused")
    assert torch.isfinite(b).all() and torch.isfinite(s).all()
    assert (b[:, 0] > 40).all()
    sinkhorn = make_field("sinkhorn", iterations=20, backend="fused").parts(x[:, :2], y[:, :2],
                                                                            None, 0.1)  # fmt: skip
    assert torch.isfinite(sinkhorn[0]).all() and (sinkhorn[0][:, 0] > 40).all()


def test_thread_count_does_not_change_a_bit():
    x, y = _sets(500, 700, 2)
    xb, yb = _sets(300, 500, 64)
    old = torch.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            small = drift_parts(x, y, temperature=0.3, backend="fused")
            blocks = drift_parts(xb, yb, temperature=3.0, backend="fused", chunk=64)
            out.append([*small, *blocks])
    finally:
        torch.set_num_threads(old)
    for a, b in zip(*out, strict=True):
        assert torch.equal(a, b)


def test_backend_guards_say_what_to_do():
    x, y = _sets(10, 10, 2)
    with pytest.raises(ValueError, match="unknown field backend 'gpu'"):
        drift_parts(x, y, temperature=0.5, backend="gpu")
    with pytest.raises(ValueError, match="float32 on the CPU"):
        drift_parts(x.double(), y.double(), temperature=0.5, backend="fused")
    with pytest.raises(ValueError, match="choose one of"):
        make_field("paper", backend="keops")
    # "auto" on float64 runs the torch code (the fused kernels are float32)
    b, _ = drift_parts(x.double(), y.double(), temperature=0.5, backend="auto")
    assert b.dtype == torch.float64


def test_method_config_checks_the_backend():
    from pushforward.methods.chart_transport import ChartTransportConfig
    from pushforward.methods.drifting import DriftingConfig

    for config in (DriftingConfig, ChartTransportConfig):
        with pytest.raises(ValueError, match="method.field_backend 'cuda'"):
            config(field_backend="cuda")


def test_without_a_compiler_auto_falls_back_to_torch(tmp_path):
    """No compiler and an empty kernel cache: unavailable, with the reason; auto still runs."""
    code = (
        "import torch; from pushforward.fields import fused, drift_parts\n"
        "assert not fused.available(), 'built without a compiler?'\n"
        "print(fused.reason())\n"
        "x = torch.randn(20, 2); b, s = drift_parts(x, x + 1, temperature=0.5)\n"
        "assert torch.isfinite(b).all()\n"
        "try:\n    drift_parts(x, x + 1, temperature=0.5, backend='fused')\n"
        "except RuntimeError as e:\n    print('refused:', e)\n"
    )
    env = {**os.environ, "CC": str(tmp_path / "no-such-cc"), "PATH": str(tmp_path),
           "PUSHFORWARD_KERNEL_CACHE": str(tmp_path / "cache")}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "did not build" in out.stdout and "refused: the fused field backend is unavailable" in (
        out.stdout
    )


def test_the_environment_can_turn_the_fused_kernels_off():
    code = "from pushforward.fields import fused; print(fused.available(), fused.reason())"
    env = {**os.environ, "PUSHFORWARD_FIELD_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False PUSHFORWARD_FIELD_BACKEND=torch", out.stderr


def test_gaussian_sum_and_its_gradients_against_autograd_of_the_formula():
    x, y = _sets(120, 90, 3)
    x.requires_grad_(True)
    y.requires_grad_(True)
    for a, b, diagonal in ((x, y, False), (x, x, True)):
        ours = fused.gaussian_sum(a, b, 0.7, exclude_diagonal=diagonal)
        x64, y64 = x.detach().double().requires_grad_(), y.detach().double().requires_grad_()
        b64 = x64 if b is x else y64
        k = (-torch.cdist(x64, b64).square() / (2 * 0.7**2)).exp()
        want = k.sum() - (k.diagonal().sum() if diagonal else 0.0)
        torch.testing.assert_close(ours.double(), want, rtol=1e-5, atol=1e-5)
        grads = torch.autograd.grad(ours, [x, y], allow_unused=True)
        wants = torch.autograd.grad(want, [x64, y64], allow_unused=True)
        for got, ref in zip(grads, wants, strict=True):
            assert (got is None) == (ref is None)
            if got is not None:
                torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-5)


def test_mmd_loss_is_the_same_on_both_backends_and_trains():
    from pushforward.methods.statistics_matching import MMDConfig, mmd_loss

    x, y = _sets(150, 130, 2)
    x.requires_grad_(True)
    losses, grads = [], []
    for backend in ("fused", "torch"):
        loss = mmd_loss(x, y, bandwidths=[0.2, 1.0], backend=backend)
        losses.append(loss)
        grads.append(torch.autograd.grad(loss, x)[0])
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="method.field_backend 'fast'"):
        MMDConfig(field_backend="fast")
