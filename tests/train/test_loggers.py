"""`train.loggers`: TensorBoard event files beside metrics.jsonl, read back with TensorBoard's
own reader (scalars equal to metrics.jsonl's, one picture per panel and snapshot, image grids,
no step shown twice after a resume), the checks of the key, and the error without the package."""

from __future__ import annotations

import io

import matplotlib.image as plt_image
import numpy as np
import pytest

from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.errors import ConfigError
from pushforward.experiments import resolve
from pushforward.methods import build_method
from pushforward.nets import NetConfig
from pushforward.pipeline import run
from pushforward.run import Layout, RunReader
from pushforward.runtime import stream_generator
from pushforward.train import TrainConfig, fit, loggers
from pushforward.train.loggers import TensorBoardLogger, scatter_image

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard extra is not installed (pip install 'pushforward[tensorboard]')",
)

BOTH = ["jsonl", "tensorboard"]


class Interrupt(Exception):
    pass


def _events(folder):
    """TensorBoard's own reader over every event file of `folder` (orphaned steps purged)."""
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _fm():
    target = make_distribution("8gaussians")
    method = build_method({"name": "flow-matching", "steps": 4}, target, None,
                          NetConfig(width=16, depth=2), stream_generator(0, 0))  # fmt: skip
    return method, target


def _config(**kw):
    base = dict(steps=30, batch_size=32, log_every=1, checkpoint_every=10, snapshots=2,
                snapshot_samples=100, loggers=BOTH)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_the_default_is_metrics_jsonl_only():
    assert TrainConfig().loggers == ["jsonl"]
    assert resolve("fm-bimodal")["train"]["loggers"] == ["jsonl"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["jsonl", "wandb"], "unknown \\['wandb'\\]"),
        (["jsonl", "jsonl"], "names a logger twice"),
        (["tensorboard"], "must include 'jsonl'"),
    ],
)
def test_bad_loggers_are_refused_with_the_fix(value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(loggers=value)


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loggers, "tensorboard_available", lambda: False)
    with pytest.raises(ValueError, match=r"pip install 'pushforward\[tensorboard\]'"):
        TrainConfig(loggers=BOTH)
    with pytest.raises(ConfigError, match="tensorboard package is not installed"):
        resolve("fm-bimodal", ['train.loggers=["jsonl", "tensorboard"]'])
    out = tmp_path / "run"
    both = 'train.loggers=["jsonl","tensorboard"]'
    argv = ["run", "fm-bimodal", "--out", str(out), "--set", both]
    assert main(argv) == 2
    assert "pushforward[tensorboard]" in capsys.readouterr().err
    assert not out.exists()  # refused before anything was written


def test_scalars_and_pictures_match_the_run(tmp_path):
    method, target = _fm()
    path = tmp_path / "r"
    fit(method, target, _config(), path, progress=False)
    acc = _events(Layout(path).tensorboard)
    tags = acc.Tags()
    assert {"train/loss", "train/lr", "train/grad_norm", "train/time_s"} <= set(tags["scalars"])
    lines = [m for m in RunReader(path).metrics() if m.kind == "train"]
    loss = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert sorted(loss) == [m.step for m in lines] == list(range(1, 31))
    assert all(np.isclose(loss[m.step], m.values["loss"]) for m in lines)
    # one picture per panel of the method at every snapshot
    assert set(tags["images"]) == {"sample", "forward", "inverse"}
    snaps = [s.step for s in RunReader(path).info().snapshots]
    assert [e.step for e in acc.Images("forward")] == snaps
    assert acc.Images("sample")[0].width > 100
    # the folder belongs to the run: --overwrite may delete it, a fresh start clears it
    assert RunReader(path).is_ours() == (True, "")
    fit(method, target, _config(steps=5, snapshots=0), path, progress=False)
    assert max(e.step for e in _events(Layout(path).tensorboard).Scalars("train/loss")) == 5


def test_snapshot_metrics_go_under_eval(tmp_path):
    method, target = _fm()
    path = tmp_path / "r"
    fit(method, target, _config(steps=10), path, progress=False,
        evaluate=lambda x: {"w2": 0.5, "label": "not a number"})  # fmt: skip
    acc = _events(Layout(path).tensorboard)
    assert [e.value for e in acc.Scalars("eval/w2")] == [0.5] * 3  # steps 0, 3 and 10
    assert "eval/label" not in acc.Tags()["scalars"]


def test_a_resumed_run_shows_each_step_once(tmp_path):
    method, target = _fm()
    path = tmp_path / "r"

    def crash(step):
        if step == 25:
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(method, target, _config(), path, progress=False, on_step=crash)
    method, target = _fm()
    fit(method, target, _config(), path, progress=False, resume=True)  # from step 20
    loss = _events(Layout(path).tensorboard).Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, 31))  # steps 21-25 of the crash are hidden
    jsonl = {m.step: m.values["loss"] for m in RunReader(path).metrics() if m.kind == "train"}
    assert all(np.isclose(e.value, jsonl[e.step]) for e in loss)


def test_image_data_gets_an_image_grid(tmp_path):
    static = {"sample/data": np.linspace(0, 255, 10 * 64, dtype=np.float32).reshape(10, 64)}
    logger = TensorBoardLogger(tmp_path, static, image_shape=(8, 8))
    generated = np.full((70, 64), 255.0, np.float32)
    generated[:, 0] = 0.0
    logger.snapshot(7, {"sample/generated": generated, "latent/generated": np.zeros((5, 3))})
    logger.close()
    acc = _events(tmp_path)
    assert set(acc.Tags()["images"]) == {"samples", "latent"}  # no scatter of flat pixels
    grid = acc.Images("samples")[0]
    assert (grid.step, grid.width, grid.height) == (7, 64, 64)  # the first 64, 8 x 8 tiles
    pixels = plt_image.imread(io.BytesIO(grid.encoded_image_string))[..., 0]
    assert pixels[0::8, 0::8].max() == 0.0 and pixels[1::8].min() == 1.0  # scaled by the data


def test_scatter_image_draws_each_set():
    a = scatter_image({"sample/data": np.zeros((10, 2))}, grey={"sample/data"})
    b = scatter_image({"sample/data": np.zeros((10, 2)), "sample/generated": np.ones((10, 3))})
    assert a.shape == b.shape and a.shape[2] == 3 and a.dtype == np.uint8
    assert not np.array_equal(a, b)


def test_a_run_older_than_the_key_resumes_with_tensorboard_on(tmp_path):
    small = ["train.snapshots=2", "train.snapshot_samples=100", "train.eval_samples=100",
             "net.width=16"]  # fmt: skip
    path = run("fm-bimodal", tmp_path / "r", small, steps=10, progress=False, report=False)
    config = Layout(path).config
    config.write_text(config.read_text().replace('loggers = [\n    "jsonl",\n]\n', ""))
    assert "loggers" not in config.read_text()  # as a run trained before train.loggers
    run("fm-bimodal", path, [*small, 'train.loggers=["jsonl", "tensorboard"]'], steps=20,
        resume=True, progress=False, report=False)  # fmt: skip
    loss = _events(Layout(path).tensorboard).Scalars("train/loss")
    assert [e.step for e in loss] == [20]  # logged from the resumed step on (log_every 10)
