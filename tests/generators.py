"""The seeded generator every test draws from (one definition instead of one per test file)."""

import torch


def gen(seed: int = 0) -> torch.Generator:
    """A CPU `torch.Generator` seeded with `seed`."""
    return torch.Generator().manual_seed(seed)
