"""`pushforward bench train`: flow-matching training steps/s beside torchcfm and flow_matching.

Three implementations of the same training step run in one process, interleaved in rounds so
that a change in machine load hits all of them alike: ours (`methods.FlowMatching.loss`, the
shipped method, which draws its own source batch),
torchcfm's `ConditionalFlowMatcher(sigma=0)` and Meta's flow_matching
`AffineProbPath(CondOTScheduler())`. Each trains its own copy of the same MLP (our
`nets.MLP`, same initial weights) with Adam on batches of the same data; only the loss
construction differs. The peers are bench extras (`make bench-deps`); a missing one is
reported, not an error.

`bench_drift_train` times the drifting step of a shipped experiment (`drift-bimodal` by
default), built exactly as `pushforward run` builds it (`experiments.resolve` and `build`) and
stepped by `train.TrainingState` (the method's own loss, Adam, the gradient norm), so its steps/s
are what a run's `train_time_s` counts. No peer library trains by drifting, so it is a table
of its own, without a ratio; beside the steps/s it gives the field's share of the step: the
method's drift field (`Drifting.field`, all temperatures) at a generated batch against a data
batch of the step's size, timed apart in the same interleaved rounds.

`bench_sampling` measures samples/s of a one-step map (one MLP evaluation) against N-step
Euler and adaptive dopri5 integration of a velocity MLP of the same size.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from pushforward.data import make_distribution
from pushforward.experiments import build, resolve
from pushforward.methods.flow_matching import FlowMatching, FlowMatchingConfig
from pushforward.nets import MLP, NetConfig
from pushforward.ode import integrate
from pushforward.perf.measure import best_time, synchronize
from pushforward.train import TrainingState

__all__ = [
    "TRAIN_COLUMNS",
    "DRIFT_COLUMNS",
    "SAMPLING_COLUMNS",
    "peer_losses",
    "bench_train",
    "bench_drift_train",
    "bench_sampling",
]

TRAIN_COLUMNS = ["impl", "version", "steps_per_s", "ratio_to_ours", "final_loss", "note"]
DRIFT_COLUMNS = [
    "impl",
    "experiment",
    "steps_per_s",
    "field_ms",
    "field_share",
    "final_loss",
    "note",
]
SAMPLING_COLUMNS = ["map", "nfe", "samples_per_s", "ratio_to_one_step"]
Loss = Callable[[nn.Module, Tensor, Tensor, torch.Generator], Tensor]


def peer_losses() -> dict[str, tuple[str, Loss | str]]:
    """name → (version, loss function) for each installed peer; (reason, message) if missing."""
    out: dict[str, tuple[str, Loss | str]] = {}
    try:
        import torchcfm
        from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

        cfm = ConditionalFlowMatcher(sigma=0.0)

        def torchcfm_loss(net: nn.Module, x0: Tensor, x1: Tensor, g: torch.Generator) -> Tensor:
            t = torch.rand(x1.shape[0], generator=g, device=g.device).to(x1)
            t, xt, ut = cfm.sample_location_and_conditional_flow(x0, x1, t=t)
            return (net(xt, t) - ut).square().sum(1).mean()

        out["torchcfm"] = (getattr(torchcfm, "__version__", "?"), torchcfm_loss)
    except ImportError as e:
        out["torchcfm"] = ("-", f"not installed ({e.name}); run `make bench-deps`")
    try:
        import flow_matching
        from flow_matching.path import AffineProbPath
        from flow_matching.path.scheduler import CondOTScheduler

        path = AffineProbPath(scheduler=CondOTScheduler())

        def meta_loss(net: nn.Module, x0: Tensor, x1: Tensor, g: torch.Generator) -> Tensor:
            t = torch.rand(x1.shape[0], generator=g, device=g.device).to(x1)
            s = path.sample(t=t, x_0=x0, x_1=x1)
            return (net(s.x_t, s.t) - s.dx_t).square().sum(1).mean()

        out["flow_matching"] = (getattr(flow_matching, "__version__", "?"), meta_loss)
    except ImportError as e:
        out["flow_matching"] = ("-", f"not installed ({e.name}); run `make bench-deps`")
    return out


def bench_train(
    *,
    steps: int = 300,
    batch_size: int = 256,
    width: int = 256,
    depth: int = 3,
    data: str = "8gaussians",
    device: str = "cpu",
    rounds: int = 6,
) -> list[dict[str, Any]]:
    """Rows of TRAIN_COLUMNS: each implementation's training steps/s (warm-up excluded)."""
    dev = torch.device(device)
    target = make_distribution(data)
    net_config = NetConfig(width=width, depth=depth)
    init = MLP(target.dim, target.dim, net_config, time=True, generator=torch.Generator())
    # ours is the shipped method's own loss (its source is N(0, I), drawn inside the loss)
    method = FlowMatching(target, None, FlowMatchingConfig(), net_config, torch.Generator())
    method.velocity.load_state_dict(init.state_dict())
    method.to(dev)

    def ours(net: nn.Module, x0: Tensor, x1: Tensor, g: torch.Generator) -> Tensor:
        return method.loss(x1, g)[0]

    impls: dict[str, tuple[str, Loss | str]] = {"pushforward": ("ours", ours), **peer_losses()}
    state: dict[str, dict[str, Any]] = {}
    for name, (_, loss) in impls.items():
        if callable(loss):
            net = method.velocity
            if name != "pushforward":
                net = MLP(target.dim, target.dim, net_config, time=True, generator=None)
                net.load_state_dict(init.state_dict())
                net.to(dev)
            state[name] = {
                "net": net,
                "opt": torch.optim.Adam(net.parameters(), lr=1e-3),
                "gen": torch.Generator().manual_seed(0),
                "time": 0.0,
                "loss": float("nan"),
            }
    per_round = max(1, steps // rounds)

    def train(name: str, count: int) -> None:
        s = state[name]
        loss_fn = impls[name][1]
        for _ in range(count):
            x1 = target.sample(batch_size, s["gen"]).to(dev)
            x0 = torch.randn(x1.shape, generator=s["gen"]).to(dev) if name != "pushforward" else x1
            loss = loss_fn(s["net"], x0, x1, s["gen"])
            s["opt"].zero_grad(set_to_none=True)
            loss.backward()
            s["opt"].step()
        s["loss"] = float(loss.detach())

    for name in state:  # warm-up (allocator, kernels)
        train(name, 5)
    for _ in range(rounds):
        for name in state:
            synchronize(dev)
            tic = time.perf_counter()
            train(name, per_round)
            synchronize(dev)
            state[name]["time"] += time.perf_counter() - tic
    ours = per_round * rounds / state["pushforward"]["time"]
    rows = []
    for name, (version, loss) in impls.items():
        if name not in state:
            rows.append({"impl": name, "version": version, "note": loss})
            continue
        rate = per_round * rounds / state[name]["time"]
        rows.append(
            {
                "impl": name,
                "version": version,
                "steps_per_s": rate,
                "ratio_to_ours": rate / ours,
                "final_loss": state[name]["loss"],
                "note": f"batch {batch_size}, MLP {depth}x{width}, {data}",
            }
        )
    return rows


def bench_drift_train(
    *,
    steps: int = 300,
    experiment: str = "drift-bimodal",
    batch_size: int | None = None,
    width: int | None = None,
    device: str = "cpu",
    rounds: int = 6,
) -> list[dict[str, Any]]:
    """One row of DRIFT_COLUMNS: steps/s of the shipped drifting experiment's training step.

    The experiment is resolved and built as `pushforward run` does (its seed, net, method and
    Adam settings; `batch_size` and `width` override `train.batch_size` and `net.width` when
    given) and stepped by `TrainingState`: data draw, loss, backward, gradient norm, optimiser.
    In each of `rounds` rounds, `steps // rounds` steps are timed, then as many evaluations of
    the method's field at a generated batch against a data batch (no gradients, as in the
    loss, which drifts `x.detach()`); `field_share` is the field's time over the step's time.
    """
    dev = torch.device(device)
    overrides = [] if batch_size is None else [f"train.batch_size={batch_size}"]
    overrides += [] if width is None else [f"net.width={width}"]
    built = build(resolve(experiment, overrides, device=device))
    method, target, config = built.method, built.target, built.train
    if not callable(getattr(method, "field", None)):
        raise ValueError(f"{experiment!r} trains {method.name}, which has no drift field")
    method.to(dev)
    state = TrainingState(method, config, built.seed)
    batch = config.batch_size
    # the field's inputs come from a stream of their own, so the run's draws are untouched
    probe = torch.Generator().manual_seed(built.seed + 1)
    per_round = max(1, steps // rounds)
    loss = torch.full((), float("nan"))

    def train(count: int) -> None:
        nonlocal loss
        for _ in range(count):
            data = target.sample(batch, state.gens["data"]).to(dev)
            loss, _, _, _ = state.step(data)
            state.update()

    @torch.no_grad()
    def field(count: int) -> None:
        x = method.sample(batch, generator=probe)
        data = target.sample(batch, probe).to(x)
        for _ in range(count):
            method.field(x, data)

    def timed(fn: Callable[[int], None], count: int) -> float:
        synchronize(dev)
        tic = time.perf_counter()
        fn(count)
        synchronize(dev)
        return time.perf_counter() - tic

    train(5)  # warm-up (allocator, kernels)
    field(5)
    step_s = field_s = 0.0
    for _ in range(rounds):
        step_s += timed(train, per_round)
        field_s += timed(field, per_round)
    count = per_round * rounds
    net = built.config["net"]
    return [
        {
            "impl": f"ours ({method.name})",
            "experiment": experiment,
            "steps_per_s": count / step_s,
            "field_ms": 1e3 * field_s / count,
            "field_share": field_s / step_s,
            "final_loss": float(loss.detach()),
            "note": (
                f"no peer library trains by drifting (no ratio); batch {batch}, MLP "
                f"{net['depth']}x{net['width']}, {target.name}, "
                f"{len(method.temperatures())} temperatures"
            ),
        }
    ]


def bench_sampling(
    *,
    n: int = 10000,
    width: int = 256,
    depth: int = 3,
    dim: int = 2,
    device: str = "cpu",
    euler_steps: tuple[int, ...] = (1, 10, 50),
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Rows of SAMPLING_COLUMNS: samples/s of a one-step map and of integrated flows."""
    dev = torch.device(device)
    config = NetConfig(width=width, depth=depth)
    one_step = MLP(dim, dim, config, generator=torch.Generator().manual_seed(0)).to(dev)
    velocity = MLP(dim, dim, config, time=True, generator=torch.Generator().manual_seed(0))
    velocity.to(dev)
    z = torch.randn(n, dim, generator=torch.Generator().manual_seed(1)).to(dev)

    def rate(fn: Callable[[], Any]) -> float:
        fn()  # warm-up
        return n / best_time(fn, dev, repeat)

    rows = []
    with torch.no_grad():
        base = rate(lambda: one_step(z))
        rows.append({"map": "one-step MLP", "nfe": 1, "samples_per_s": base})
        for steps in euler_steps:
            r = rate(lambda s=steps: integrate(lambda t, x: velocity(x, t), z, steps=s))
            rows.append({"map": f"flow, Euler {steps} steps", "nfe": steps, "samples_per_s": r})
        adaptive = functools.partial(integrate, lambda t, x: velocity(x, t), z, solver="dopri5")
        r = rate(adaptive)
        rows.append({"map": "flow, dopri5 (rtol 1e-5)", "nfe": adaptive().nfe, "samples_per_s": r})
    for row in rows:
        row["ratio_to_one_step"] = row["samples_per_s"] / base
    return rows
