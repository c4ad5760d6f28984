"""Fixtures shared by the method tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op thread (fast on a busy 2-core machine; the CLI runs set it too). Restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
