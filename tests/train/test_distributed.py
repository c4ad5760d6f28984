"""Data-parallel training: K gloo processes with batch B/K against one process with batch B.

Two processes are started with torch.multiprocessing (the same environment torchrun sets).
For every batch-level loss (drifting fields, MMD, Sinkhorn, sliced W2, the chart's latent
field) the mean loss over ranks and the averaged gradients must equal one process's loss and
gradients on the whole batch, with the same noise (injected through `draw_normal`). A last
test runs the real `torchrun -m pushforward run`, resumes it, and refuses a resume with a
different process count.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

BATCH = 32
WORLD = 2

# experiment TOML bodies: name -> (method table, data name)
CASES = {
    "drift-paper": ('name = "drifting"\ntemperatures = [0.1, 0.5]', "8gaussians"),
    "drift-onesided": (
        'name = "drifting"\ntemperatures = [0.3]\nbidirectional = false\nnormalize = false',
        "8gaussians",
    ),
    "drift-sinkhorn": (
        'name = "drifting"\nfield = "sinkhorn"\nsinkhorn_iters = 5\ntemperatures = [0.3]',
        "8gaussians",
    ),
    "drift-mmd-gradient": (
        'name = "drifting"\nfield = "mmd-gradient"\nkernel = "gaussian"\ntemperatures = [0.5]',
        "8gaussians",
    ),
    "mmd": ('name = "mmd"', "8gaussians"),
    "energy-mmd": ('name = "mmd"\nkernel = "energy"', "8gaussians"),
    "sinkhorn": ('name = "sinkhorn"', "8gaussians"),
    "sliced-wasserstein": ('name = "sliced-wasserstein"', "8gaussians"),
    "chart-drift": (
        'name = "chart-transport"\nlatent_dim = 2\ntemperatures = [0.2, 0.5]',
        "moons",
    ),
}


def _toml(method: str, data: str, steps: int = 2) -> str:
    """A tiny experiment file."""
    return (
        f'[experiment]\ndescription = "ddp test"\nseed = 3\n\n[data]\nname = "{data}"\n\n'
        f"[method]\n{method}\n\n[net]\nwidth = 16\ndepth = 2\n\n"
        f"[train]\nsteps = {steps}\nbatch_size = {BATCH}\nsnapshots = 0\nthreads = 1\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fixed_noise(rank: int, world: int):
    """A `draw_normal` stand-in: rank's rows of one global noise draw per trailing shape."""

    def draw(shape, generator, like):
        shape = tuple(shape)
        seed = 1000 + 31 * len(shape) + sum(shape[1:])
        if shape[0] * world == BATCH or (world == 1 and shape[0] == BATCH):
            full = torch.randn((BATCH, *shape[1:]), generator=torch.Generator().manual_seed(seed))
            b = BATCH // world
            return full[rank * b : (rank + 1) * b].to(like)
        # not per-sample (e.g. projection directions): the same on every rank
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed + 7)).to(like)

    return draw


def _loss_and_grads(path: Path, rank: int, world: int, patch=setattr) -> dict[str, torch.Tensor]:
    """Loss (mean over ranks) and the synchronised gradients of one step on a fixed batch.

    `patch(module, name, value)` injects the noise (pytest's monkeypatch.setattr in this
    process, so later tests get the real `draw_normal` back).
    """
    from pushforward import distributed
    from pushforward.experiments import build, resolve
    from pushforward.methods import chart_transport, drifting, statistics_matching
    from pushforward.train.state import _data_parallel

    for module in (drifting, statistics_matching, chart_transport):
        patch(module, "draw_normal", _fixed_noise(rank, world))
    built = build(resolve(str(path)))
    data = built.target.sample(BATCH, torch.Generator().manual_seed(11))
    b = BATCH // world
    model = _data_parallel(built.method, torch.device("cpu"))
    loss, _ = model(data[rank * b : (rank + 1) * b], torch.Generator().manual_seed(5))
    loss.backward()
    out = {f"grad.{k}": p.grad.clone() for k, p in built.method.named_parameters()}
    out["loss"] = torch.tensor(distributed.mean_across(float(loss.detach())))
    return out


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    """One rank: join the group as torchrun would, then run every case."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from pushforward import distributed

    distributed.setup(torch.device("cpu"))
    for name in CASES:
        result = _loss_and_grads(Path(folder) / f"{name}.toml", rank, world)
        save_file(result, str(Path(folder) / f"{name}.rank{rank}.safetensors"))
    # every method trains two real steps through train.fit under DDP (no unused-parameter errors)
    from pushforward.experiments import build, resolve
    from pushforward.train import fit

    for path in sorted(Path(folder).glob("smoke-*.toml")):
        built = build(resolve(str(path)))
        summary = fit(built.method, built.target, built.train, seed=built.seed, progress=False)
        if rank == 0:
            (Path(folder) / f"{path.stem}.json").write_text(json.dumps(summary))
    distributed.shutdown()


SMOKE = {
    "flow-matching": 'name = "flow-matching"',
    "stochastic-interpolant": 'name = "stochastic-interpolant"',
    "diffusion": 'name = "diffusion"',
    "vae": 'name = "vae"',
    "normalizing-flow": 'name = "normalizing-flow"',
    "latent-flow": 'name = "latent-flow"\nlatent_dim = 1',
    "chart-score": 'name = "chart-transport"\nlatent = "score"\nencoder = "stochastic"',
    "drifting": 'name = "drifting"',
}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run the 2-process workers once; the folder with every rank's results."""
    folder = tmp_path_factory.mktemp("ddp")
    for name, (method, data) in CASES.items():
        (folder / f"{name}.toml").write_text(_toml(method, data))
    for name, method in SMOKE.items():
        (folder / f"smoke-{name}.toml").write_text(_toml(method, "8gaussians"))
    mp.spawn(_worker, args=(WORLD, _free_port(), str(folder)), nprocs=WORLD, join=True)
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_give_the_one_process_loss_and_gradients(ranks, case, monkeypatch):
    single = _loss_and_grads(ranks / f"{case}.toml", 0, 1, monkeypatch.setattr)
    r0 = load_file(str(ranks / f"{case}.rank0.safetensors"))
    r1 = load_file(str(ranks / f"{case}.rank1.safetensors"))
    assert set(r0) == set(single)
    torch.testing.assert_close(r0["loss"].double(), single["loss"].double(), rtol=1e-5, atol=1e-7)
    for key in single:
        if key == "loss":
            continue
        torch.testing.assert_close(r0[key], r1[key], rtol=0, atol=0)  # DDP synchronised them
        torch.testing.assert_close(r0[key], single[key], rtol=1e-4, atol=1e-6)
    assert any(single[k].abs().sum() > 0 for k in single if k != "loss")


def test_a_rank_local_loss_would_differ(ranks, monkeypatch):
    """The check above can fail: the plain local MMD (no gather) gives other gradients."""
    from pushforward.experiments import build, resolve
    from pushforward.methods import statistics_matching

    monkeypatch.setattr(statistics_matching, "draw_normal", _fixed_noise(0, 2))
    built = build(resolve(str(ranks / "mmd.toml")))
    data = built.target.sample(BATCH, torch.Generator().manual_seed(11))
    loss, _ = built.method.loss(data[: BATCH // 2], torch.Generator())
    loss.backward()
    local = {f"grad.{k}": p.grad for k, p in built.method.named_parameters()}
    r0 = load_file(str(ranks / "mmd.rank0.safetensors"))
    assert any(not torch.allclose(local[k], r0[k], rtol=1e-3, atol=1e-5) for k in local)


@pytest.mark.parametrize("name", list(SMOKE))
def test_every_method_trains_under_ddp(ranks, name):
    summary = json.loads((ranks / f"smoke-{name}.json").read_text())
    assert summary["step"] == 2 and math.isfinite(summary["loss"])


def _torchrun(tmp_path: Path, procs: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}"]
    cmd += [f"--master_port={_free_port()}", "-m", "pushforward", "run", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_trains_writes_from_rank_zero_and_resumes(tmp_path):
    common = ["drift-bimodal", "--set", "train.batch_size=64", "--set", "train.snapshots=2"]
    common += ["--set", "train.checkpoint_every=10", "--no-report", "--quiet"]
    first = _torchrun(tmp_path, 2, *common, "--steps", "20")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("run directory:") == 1  # rank 0 prints, rank 1 does not
    run = tmp_path / "runs" / "drift-bimodal"
    info = json.loads((run / "run.json").read_text())
    assert (info["status"], info["step"], info["processes"]) == ("done", 20, 2)
    tensors = load_file(str(run / "checkpoint.safetensors"))
    assert "rng.noise.rank1" in tensors  # every rank's noise stream is saved
    assert not torch.equal(tensors["rng.noise"], tensors["rng.noise.rank1"])

    again = _torchrun(tmp_path, 2, *common, "--steps", "30", "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert (info["status"], info["step"]) == ("done", 30)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 30 and steps.count(30) >= 1

    alone = subprocess.run(
        [sys.executable, "-m", "pushforward", "run", *common, "--steps", "40", "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert alone.returncode == 2
    assert "written by 2 process(es)" in alone.stderr and "--nproc_per_node=2" in alone.stderr
