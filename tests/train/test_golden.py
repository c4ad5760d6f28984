"""Training is bit-identical to before the run-directory refactor (issue 20).

Before the refactor, short fixed-seed runs of four experiments were trained and the sha256 of
their checkpoint tensors recorded (names and bytes, sorted by name; the first 16 hex digits).
The same runs must give the same tensors: any change to the loop, the fields, the methods or
the checkpoint format that alters a single bit fails here. Float results depend on the CPU's
vector unit, so the hashes hold for the machine kind they were recorded on (x86-64, torch's
AVX2 kernels, one thread); elsewhere the test is skipped and says why.
"""

from __future__ import annotations

import hashlib
import platform

import pytest
import torch

from pushforward.pipeline import run
from pushforward.run import Layout, load_checkpoint

RECORDED_ON = ("x86_64", "AVX2", "2.13.0")  # machine, torch's CPU kernels, torch version
OVERRIDES = [
    "train.threads=1",
    "train.checkpoint_every=20",
    "train.snapshots=4",
    "train.snapshot_samples=200",
    "train.eval_samples=200",
]
# the drift fields on their torch code: the fused CPU kernels (`fields.fused`, the default where
# they build) are compiled for the machine they run on, so their bits are not the recorded ones
FIELD_ON_TORCH = ["method.field_backend=torch"]
GOLDEN = {  # experiment -> sha256 prefix of the checkpoint tensors after 40 steps, seed 3
    "drift-bimodal": "42bd6a18e09adeba",
    "fm-bimodal": "88c35752ed6a5786",
    "chart-bimodal": "030ed5e9c10414ae",
    "drift-variants-8g": "f426fe80ca841d15",
}


def tensor_digest(path) -> str:
    """sha256 prefix over every checkpoint array's name and bytes, sorted by name."""
    arrays, _ = load_checkpoint(path)
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(arrays[name].tobytes())
    return h.hexdigest()[:16]


def _machine() -> tuple[str, str, str]:
    capability = torch.backends.cpu.get_cpu_capability()
    return platform.machine(), capability, torch.__version__.split("+")[0]


@pytest.mark.parametrize("name", list(GOLDEN))
def test_short_fixed_seed_runs_train_bit_identically(name, tmp_path):
    if _machine() != RECORDED_ON:
        pytest.skip(f"hashes were recorded on {RECORDED_ON}; this machine is {_machine()}")
    threads = torch.get_num_threads()
    try:
        overrides = OVERRIDES + ([] if name == "fm-bimodal" else FIELD_ON_TORCH)
        path = run(name, tmp_path / name, overrides, steps=40, seed=3, progress=False,
                   report=False)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert tensor_digest(Layout(path).checkpoint) == GOLDEN[name]
