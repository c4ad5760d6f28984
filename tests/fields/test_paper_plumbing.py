"""The paper field's wrappers pass every argument through: the reference field's negatives,
normaliser and dtype, and the chunk size that bounds the fast field's memory."""

import torch

from pushforward.fields import paper
from pushforward.fields.paper import PaperField, PaperReferenceField, drift_field, drift_field_dense


def _sets(dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 2, generator=g, dtype=dtype)
    return (
        x,
        torch.randn(10, 2, generator=g, dtype=dtype) + 0.5,
        torch.randn(9, 2, generator=g, dtype=dtype),
    )


def test_the_reference_field_repels_from_the_negatives_it_is_given():
    x, y_pos, y_neg = _sets()
    v, s = PaperReferenceField().parts(x, y_pos, y_neg, 0.5)
    assert torch.allclose(v, drift_field_dense(x, y_pos, y_neg, temperature=0.5))
    assert not torch.allclose(v, drift_field_dense(x, y_pos, None, temperature=0.5), atol=1e-3)
    assert torch.equal(s, torch.zeros(12))


def test_the_reference_field_keeps_its_normaliser_and_the_points_dtype():
    x, y_pos, y_neg = _sets(torch.float64)
    for bidirectional in (True, False):
        v, s = PaperReferenceField(bidirectional=bidirectional).parts(x, y_pos, y_neg, 0.5)
        want = drift_field_dense(x, y_pos, y_neg, temperature=0.5, bidirectional=bidirectional)
        assert torch.allclose(v, want)
        assert s.dtype == torch.float64 and s.shape == (12,)
    one = PaperReferenceField(bidirectional=True).parts(x, y_pos, y_neg, 0.5)[0]
    other = PaperReferenceField(bidirectional=False).parts(x, y_pos, y_neg, 0.5)[0]
    assert not torch.allclose(one, other, atol=1e-4)


def test_the_chunk_size_reaches_drift_parts(monkeypatch):
    seen = []
    real = paper.drift_parts

    def spy(*args, **kwargs):
        seen.append(kwargs["chunk"])
        return real(*args, **kwargs)

    monkeypatch.setattr(paper, "drift_parts", spy)
    x, y_pos, y_neg = _sets()
    PaperField(chunk=5).parts(x, y_pos, y_neg, 0.5)
    drift_field(x, y_pos, y_neg, temperature=0.5, chunk=3)
    drift_field(x, y_pos, y_neg, temperature=0.5)
    assert seen == [5, 3, None]
