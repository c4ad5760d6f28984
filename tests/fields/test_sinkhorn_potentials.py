"""The Sinkhorn scalings and the kernel logits under them: POT's entropic plan, one sweep in
closed form, the documented defaults, the dtype kept, the logit cache (computed once for small
sets, per sweep above the limit, the same numbers either way) and the row blocks; the dense
reference's plan has both marginals; the shared argument checks name what they refuse."""

from __future__ import annotations

import math

import ot
import pytest
import torch

from pushforward.fields import kernels, sinkhorn
from pushforward.fields.dense import _plan
from pushforward.fields.kernels import check_field_args, pairwise_logits, row_logits
from pushforward.fields.sinkhorn import sinkhorn_coupling, sinkhorn_potentials


def _points(n: int, m: int, d: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, torch.randn(m, d, generator=g, dtype=torch.float64) + 0.5


@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
def test_the_coupling_is_pots_entropic_plan(kernel):
    """P = exp(l + f ⊕ g) is POT's Sinkhorn plan for the cost −τ·l at regularisation τ."""
    x, y = _points(12, 9)
    tau = 0.7
    cost = -tau * pairwise_logits(x, y, tau, kernel)
    a, b = torch.full((12,), 1 / 12, dtype=x.dtype), torch.full((9,), 1 / 9, dtype=x.dtype)
    want = ot.sinkhorn(a.numpy(), b.numpy(), cost.numpy(), tau, numItermax=5000, stopThr=1e-14)
    got = sinkhorn_coupling(x, y, temperature=tau, kernel=kernel, iterations=400)
    torch.testing.assert_close(got, torch.as_tensor(want), rtol=1e-9, atol=1e-12)


def test_one_sweep_is_the_column_then_row_update_from_zero():
    x, y = _points(7, 5)
    tau = 0.4
    logits = pairwise_logits(x, y, tau, "gaussian")
    g = -math.log(5) - logits.logsumexp(0)
    f = -math.log(7) - (logits + g).logsumexp(1)
    got_f, got_g = sinkhorn_potentials(x, y, temperature=tau, kernel="gaussian", iterations=1)
    torch.testing.assert_close(got_g, g, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_f, f, rtol=1e-12, atol=1e-12)
    two = sinkhorn_potentials(x, y, temperature=tau, kernel="gaussian", iterations=2)
    assert not torch.allclose(two[1], g)  # a second sweep still moves g


def test_the_potentials_defaults_are_laplace_and_50_sweeps():
    x, y = _points(20, 15)
    default = sinkhorn_potentials(x, y, temperature=0.02)
    explicit = sinkhorn_potentials(x, y, temperature=0.02, kernel="laplace", iterations=50)
    assert all(torch.equal(a, b) for a, b in zip(default, explicit, strict=True))
    more = sinkhorn_potentials(x, y, temperature=0.02, iterations=51)
    assert not torch.equal(default[1], more[1])  # at τ = 0.02 sweep 51 still moves g


def test_the_potentials_keep_the_points_dtype():
    x, y = _points(6, 4)
    for dtype in (torch.bfloat16, torch.float32, torch.float64):
        f, g = sinkhorn_potentials(x.to(dtype), y.to(dtype), temperature=0.5)
        assert (f.dtype, g.dtype, f.shape, g.shape) == (dtype, dtype, (6,), (4,))


@pytest.fixture
def logit_rows(monkeypatch):
    """The row counts of every `row_logits` call the Sinkhorn sweeps make, in order."""
    calls: list[int] = []

    def counted(x, *args):
        calls.append(x.shape[0])
        return row_logits(x, *args)

    monkeypatch.setattr(sinkhorn, "row_logits", counted)
    return calls


@pytest.mark.parametrize("mask_self", [False, True])
def test_small_sets_compute_their_logits_once_large_ones_per_sweep(logit_rows, monkeypatch,
                                                                   mask_self):  # fmt: skip
    x, _ = _points(10, 0)
    y = x if mask_self else _points(10, 7)[1]
    m = y.shape[0]
    kw = dict(temperature=0.3, iterations=5, chunk=4, mask_self=mask_self)
    cached = sinkhorn_potentials(x, y, **kw)
    assert logit_rows == [4, 4, 2]  # once per block, not per sweep

    for limit, calls in [(10 * m, 3), (10 * m - 1, 2 * 5 * 3)]:  # n·m at the limit: cached
        logit_rows.clear()
        monkeypatch.setattr(sinkhorn, "_CACHE_PAIRS", limit)
        again = sinkhorn_potentials(x, y, **kw)
        assert len(logit_rows) == calls, limit
        assert all(torch.equal(a, b) for a, b in zip(again, cached, strict=True))


@pytest.mark.parametrize("self_coupling", [False, True])
def test_the_field_reuses_the_logits_its_sweeps_kept(logit_rows, monkeypatch, self_coupling):
    """Small sets: the barycentres read the logits the potentials kept (each block computed
    once per coupling), and the field equals the one that recomputes them (cache off)."""
    x, y = _points(10, 9, seed=3)
    field = sinkhorn.SinkhornField(iterations=5, chunk=4, backend="torch")
    kept = field.parts(x, y, None if self_coupling else x[:6], 0.4)[0]
    assert logit_rows == [4, 4, 2] * 2  # x→y_pos and x→y_neg, once each
    logit_rows.clear()
    monkeypatch.setattr(sinkhorn, "_CACHE_PAIRS", 0)
    recomputed = field.parts(x, y, None if self_coupling else x[:6], 0.4)[0]
    assert len(logit_rows) == 2 * (2 * 5 + 1) * 3  # per half sweep and once for the barycentre
    assert torch.equal(kept, recomputed)


def test_the_potentials_work_in_blocks_of_1024_rows_by_default(logit_rows):
    x, y = _points(1030, 3)
    sinkhorn_potentials(x, y, temperature=1.0, iterations=1)
    assert logit_rows == [1024, 6]


def test_the_pairwise_logits_default_to_the_laplace_kernel():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[3.0, 4.0]])
    want = -torch.cdist(x, y) / 2.0
    torch.testing.assert_close(pairwise_logits(x, y, 2.0), want)
    torch.testing.assert_close(pairwise_logits(x, y, 2.0, "gaussian"), -((want * 2.0) ** 2) / 8.0)
    with pytest.raises(ValueError, match=r"^unknown kernel 'cauchy'; choose one of \('laplace', "):
        pairwise_logits(x, y, 2.0, "cauchy")


def test_masked_rows_forbid_the_pairs_with_themselves_from_their_offset():
    x, _ = _points(6, 0)
    block = row_logits(x[2:5], x, 2, True, 0.5, "laplace")
    assert block.shape == (3, 6) and block.device == x.device
    full = pairwise_logits(x, x, 0.5, "laplace")
    for r in range(3):
        for c in range(6):
            want = kernels.MASK if c == r + 2 else full[r + 2, c]
            assert block[r, c] == want, (r, c)


def test_the_shared_checks_accept_two_samples_and_name_what_they_refuse():
    two, one = torch.zeros(2, 3), torch.zeros(1, 3)
    assert check_field_args(two, 0.1, "laplace", True) is None
    assert check_field_args(one, 0.1, "gaussian", False) is None  # nothing to repel from
    with pytest.raises(ValueError, match=r"^the drift field needs at least 2 generated samples$"):
        check_field_args(one, 0.1, "laplace", True)
    with pytest.raises(ValueError, match=r"^temperature must be > 0, got 0$"):
        check_field_args(two, 0, "laplace", True)
    with pytest.raises(ValueError, match=r"^unknown kernel 'cosine'; choose one of "):
        check_field_args(two, 0.1, "cosine", True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_dense_plan_has_both_uniform_marginals(dtype):
    x, y = _points(9, 6)
    k = (-torch.cdist(x, y)).exp().to(dtype)
    p = _plan(k, 300)  # enough sweeps for both marginals, and no drift of the scalings' size
    assert p.dtype == dtype and torch.isfinite(p).all()
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(p.sum(1), torch.full((9,), 1 / 9, dtype=dtype), rtol=0, atol=tol)
    torch.testing.assert_close(p.sum(0), torch.full((6,), 1 / 6, dtype=dtype), rtol=0, atol=tol)


def test_the_dense_plan_without_sweeps_is_the_kernel_in_its_dtype():
    k = (-torch.cdist(*_points(4, 3))).exp()
    for dtype in (torch.bfloat16, torch.float64):
        p = _plan(k.to(dtype), 0)
        assert p.dtype == dtype and torch.equal(p, k.to(dtype))
