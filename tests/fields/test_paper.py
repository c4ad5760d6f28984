"""The drifting field against the dense reference formula and closed-form properties."""

import pytest
import torch

from pushforward.fields import (
    PaperField,
    PaperReferenceField,
    drift,
    drift_field,
    drift_field_dense,
    drift_parts,
)


def _sets(n=200, m=150, d=2, seed=0, shift=0.5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randn(m, d, generator=g) + shift
    return x, y


def _dense_log_reference(x, y_pos, y_neg, tau, kernel, bidirectional):
    """Straightforward dense log-space formula (no chunks, no factorisation), float64."""
    x, y_pos = x.double(), y_pos.double()
    mask = y_neg is None
    y_neg = x if y_neg is None else y_neg.double()
    d = torch.cdist(x, torch.cat([y_neg, y_pos]))
    logits = -d / tau if kernel == "laplace" else -d.square() / (2 * tau**2)
    if mask:
        logits[:, : len(y_neg)].fill_diagonal_(-float("inf"))
    a = logits.softmax(1)
    if bidirectional:
        a = (a * logits.softmax(0)).sqrt()
    a_neg, a_pos = a[:, : len(y_neg)], a[:, len(y_neg) :]
    return (a_pos * a_neg.sum(1, keepdim=True)) @ y_pos - (
        a_neg * a_pos.sum(1, keepdim=True)
    ) @ y_neg


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("separate_neg", [True, False])
def test_chunked_log_space_equals_dense_reference(bidirectional, separate_neg):
    x, y = _sets()
    y_neg = _sets(seed=1, shift=-0.3)[0][:100] if separate_neg else None
    for tau in (0.2, 0.5, 1.0):
        ref = drift_field_dense(x, y, y_neg, temperature=tau, bidirectional=bidirectional)
        for chunk in (37, 10_000):
            v = drift_field(x, y, y_neg, temperature=tau, bidirectional=bidirectional, chunk=chunk)
            torch.testing.assert_close(v, ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
def test_matches_plain_dense_log_formula_float64(kernel):
    x, y = _sets(n=120, m=90, d=3)
    for bidirectional in (True, False):
        ref = _dense_log_reference(x, y, None, 0.3, kernel, bidirectional)
        v = drift_field(
            x.double(),
            y.double(),
            temperature=0.3,
            kernel=kernel,
            bidirectional=bidirectional,
            chunk=17,
        )
        torch.testing.assert_close(v, ref, atol=1e-10, rtol=1e-8)


def test_antisymmetry_of_attraction_and_repulsion():
    x, a = _sets(seed=2)
    b = _sets(seed=3, shift=-1.0)[1]
    for bidirectional in (True, False):
        v_ab = drift_field(x, a, b, temperature=0.3, bidirectional=bidirectional)
        v_ba = drift_field(x, b, a, temperature=0.3, bidirectional=bidirectional)
        torch.testing.assert_close(v_ab, -v_ba, atol=1e-6, rtol=1e-5)


def test_zero_when_attracting_and_repelling_sets_are_the_same():
    x, y = _sets(seed=4)
    v = drift_field(x, y, y.clone(), temperature=0.2)
    assert v.abs().max() < 1e-6


def test_vanishes_as_generated_and_data_follow_the_same_distribution():
    """Same law: the field is sampling noise (shrinks like 1/sqrt(n)), far below a shifted law."""
    rms = {}
    for n in (500, 2000):
        g = torch.Generator().manual_seed(5)
        x, y = torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g)
        rms[n] = drift_field(x, y, temperature=0.5).square().sum(1).mean().sqrt()
    shifted = drift_field(x, y + 1.0, temperature=0.5).square().sum(1).mean().sqrt()
    assert rms[2000] < 0.7 * rms[500]
    assert rms[2000] < 0.1 * shifted


def test_field_points_toward_data():
    x, y = _sets(shift=0.0)
    v = drift_field(x, y + torch.tensor([3.0, 0.0]), temperature=0.5)
    assert (v[:, 0] > 0).float().mean() > 0.95


def test_far_apart_sets_do_not_underflow_to_zero():
    """distance/τ ≈ 2000 ≫ 88: the reference formula gives exactly zero, log space does not."""
    g = torch.Generator().manual_seed(6)
    x = 0.1 * torch.randn(256, 2, generator=g)
    y = 0.1 * torch.randn(256, 2, generator=g) + torch.tensor([100.0, 0.0])
    ref = drift_field_dense(x, y, temperature=0.05)
    assert ref.abs().max() == 0  # the failure we guard against
    v = drift_field(x, y, temperature=0.05, normalize=True)
    assert torch.isfinite(v).all()
    rms = v.square().sum(1).mean().sqrt()
    assert abs(float(rms) - 1.0) < 1e-4
    cos = torch.nn.functional.cosine_similarity(v, y.mean(0) - x, dim=1)
    assert (cos > 0.9).float().mean() > 0.99


def test_normalize_is_the_rescaled_raw_field():
    x, y = _sets(seed=7)
    raw = drift_field(x, y, temperature=0.3)
    unit = drift_field(x, y, temperature=0.3, normalize=True)
    torch.testing.assert_close(unit, raw / raw.square().sum(1).mean().sqrt(), atol=1e-5, rtol=1e-4)


def test_parts_factorise_the_field():
    x, y = _sets(seed=8)
    shift, log_scale = drift_parts(x, y, temperature=0.4)
    torch.testing.assert_close(log_scale.exp()[:, None] * shift, drift_field(x, y, temperature=0.4))


def test_multi_temperature_reference_option_matches_log_space():
    x, y = _sets(seed=9)
    v, logs = drift(PaperField(), x, y, [0.3, 1.0])
    v_ref, logs_ref = drift(PaperReferenceField(), x, y, [0.3, 1.0])
    torch.testing.assert_close(v, v_ref, atol=1e-4, rtol=1e-4)
    assert logs.keys() == logs_ref.keys() == {"drift_rms/0.3", "drift_rms/1"}


def test_bad_arguments_are_refused():
    x, y = _sets()
    with pytest.raises(ValueError, match="temperature"):
        drift_field(x, y, temperature=0.0)
    with pytest.raises(ValueError, match="kernel"):
        drift_field(x, y, kernel="cauchy")


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("kernel", ["laplace", "gaussian"])
@pytest.mark.parametrize("d", [2, 40])  # the logit cache is used from d = 32 on
def test_chunking_and_logit_cache_do_not_change_the_field(bidirectional, kernel, d):
    x, y = _sets(n=130, m=90, d=d)
    kw = dict(temperature=0.4 * (d / 2) ** 0.5, kernel=kernel, bidirectional=bidirectional)
    full_b, full_s = drift_parts(x, y, **kw, chunk=1000)
    no_cache = drift_parts(x, y, **kw, chunk=17, cache_bytes=0)
    torch.testing.assert_close(no_cache[0], full_b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(no_cache[1], full_s, rtol=1e-5, atol=1e-5)
    cached = drift_parts(x, y, **kw, chunk=20)
    torch.testing.assert_close(cached[0], full_b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cached[1], full_s, rtol=1e-5, atol=1e-5)


def test_field_of_a_far_blob_is_finite_in_every_chunking():
    g = torch.Generator().manual_seed(3)
    x = 0.05 * torch.randn(300, 2, generator=g) + torch.tensor([0.0, -40.0])
    y = torch.randn(200, 2, generator=g)
    for chunk, cache in ((7, 0), (64, 1 << 30)):
        b, s = drift_parts(x, y, temperature=0.05, chunk=chunk, cache_bytes=cache)
        assert torch.isfinite(b).all() and torch.isfinite(s).all()
        assert (b[:, 1] > 0).all()  # every sample is pulled up, toward the data


def test_paper_field_family_is_drift_parts():
    x, y = _sets(n=30, m=20)
    b, s = PaperField(kernel="gaussian", bidirectional=False, chunk=7).parts(x, y, None, 0.5)
    ref = drift_parts(x, y, temperature=0.5, kernel="gaussian", bidirectional=False)
    torch.testing.assert_close(b, ref[0])
    torch.testing.assert_close(s, ref[1])
