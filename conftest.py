"""Test session: one intra-op thread, so tiny training runs stay fast on a busy 2-core box."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by CLI subprocesses

import torch  # noqa: E402

torch.set_num_threads(1)
