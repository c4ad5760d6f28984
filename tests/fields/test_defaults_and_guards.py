"""The parts of the fields that only a default, a guard or a device choice reaches: the chunk
heuristic per device (a memory budget, in closed form), the documented defaults of the paper
field and the Sinkhorn coupling, and the score-difference field's two-sample guard."""

from __future__ import annotations

import pytest
import torch

from pushforward.fields.paper import _auto_chunk, drift_field
from pushforward.fields.score_difference import smoothed_pair
from pushforward.fields.sinkhorn import sinkhorn_coupling

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a device object; nothing is allocated


@pytest.mark.parametrize(
    ("columns", "d", "device", "rows"),
    [
        (1024, 2, CPU, 1024),  # 2^20 logits per block below d = 64
        (4096, 2, CPU, 256),
        (10, 2, CPU, 4096),  # capped at 4096 rows
        (1 << 22, 2, CPU, 16),  # at least 16 rows
        (0, 2, CPU, 4096),  # no columns: no division by zero
        (4096, 63, CPU, 256),
        (4096, 64, CPU, 2048),  # 2^23 from d = 64 on
        (4096, 784, CPU, 2048),
        (1024, 784, CPU, 4096),
        (1024, 2, CUDA, 65536),  # 2^27 logits per block on a GPU, capped at 65536 rows
        (1 << 16, 2, CUDA, 2048),
        (1 << 16, 784, CUDA, 2048),  # the GPU budget does not depend on d
        (1 << 24, 2, CUDA, 16),
        (0, 2, CUDA, 65536),
    ],
)
def test_the_chunk_is_the_memory_budget_over_the_columns_within_its_bounds(columns, d, device,
                                                                             rows):  # fmt: skip
    assert _auto_chunk(columns, d, device) == rows


def _points(n: int, m: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), torch.randn(m, 2, generator=g) + 1.0


def test_the_paper_field_defaults_are_the_papers():
    x, y = _points(40, 50)
    explicit = drift_field(x, y, temperature=0.05, kernel="laplace", bidirectional=True)
    assert torch.equal(drift_field(x, y), explicit)
    assert not torch.allclose(drift_field(x, y, temperature=1.05), explicit)


def test_the_sinkhorn_coupling_defaults_are_laplace_and_50_iterations():
    x, y = _points(30, 20)
    p = sinkhorn_coupling(x, y, temperature=0.02)
    assert torch.equal(p, sinkhorn_coupling(x, y, temperature=0.02, kernel="laplace",
                                            iterations=50))  # fmt: skip
    # at τ = 0.02 one iteration more still moves the coupling (by about 1e-3)
    assert not torch.equal(p, sinkhorn_coupling(x, y, temperature=0.02, iterations=51))
    torch.testing.assert_close(p.sum(1), torch.full((30,), 1 / 30), rtol=0, atol=1e-6)


def test_the_score_difference_field_needs_two_samples_to_repel_from_themselves():
    x, y = _points(1, 5)
    with pytest.raises(ValueError, match="at least 2 generated samples"):
        smoothed_pair(x, y, None, 0.1, 64)
    # with explicit negatives one sample is fine, and it sees every negative
    (_, _), (_, _), negatives = smoothed_pair(x, y, y, 0.1, 64)
    assert negatives == 5
    x2, _ = _points(3, 5)
    assert smoothed_pair(x2, y, None, 0.1, 64)[2] == 2  # itself left out
