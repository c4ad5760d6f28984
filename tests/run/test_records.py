"""Typed records of a run directory: round trips, and a damaged field is named, not half-used."""

from __future__ import annotations

import math

import pytest

from pushforward.errors import RunDirError
from pushforward.run import FORMAT, EvalRecord, MetricLine, RunInfo, SnapshotEntry


def test_run_info_round_trips_through_json():
    info = RunInfo(
        experiment="e", method="drifting", dim=2, image_shape=[8, 8], status="done", step=10,
        steps=10, train_time_s=1.5, snapshots=[SnapshotEntry(0, "snapshots/a"),
        SnapshotEntry(10, "snapshots/b")], panels={"sample": "Sample space"},
    )  # fmt: skip
    again = RunInfo.from_json(info.to_json())
    assert again == info and again.format == FORMAT
    assert info.to_json()["snapshots"][1] == {"step": 10, "file": "snapshots/b"}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([], "JSON object"),
        (None, "JSON object"),
        ({"status": "exploded"}, "status"),
        ({"step": "10"}, "step"),
        ({"step": True}, "step"),
        ({"dim": 2.5}, "dim"),
        ({"train_time_s": "fast"}, "train_time_s"),
        ({"image_shape": [8, "8"]}, "image_shape"),
        ({"panels": ["sample"]}, "panels"),
        ({"snapshots": {"0": "a"}}, "snapshots"),
        ({"snapshots": [{"step": 1}]}, "snapshot"),
        ({"experiment": 3}, "experiment"),
    ],
)
def test_a_damaged_run_json_names_the_field(value, field):
    with pytest.raises(RunDirError, match=field) as err:
        RunInfo.from_json(value, "runs/x/run.json")
    assert "runs/x/run.json" in str(err.value) and "train the run again" in str(err.value)


def test_unknown_run_json_keys_are_ignored():
    assert RunInfo.from_json({"experiment": "e", "future_key": 1}).experiment == "e"


def test_metric_lines_keep_their_kind_and_drop_torn_ones():
    train = MetricLine.from_json({"step": 3, "loss": 0.5, "lr": 1e-3})
    assert (train.kind, train.values) == ("train", {"loss": 0.5, "lr": 1e-3})
    assert train.to_json() == {"step": 3, "loss": 0.5, "lr": 1e-3}  # no "kind" key for training
    ev = MetricLine.from_json({"step": 4, "kind": "eval", "w2": 0.1, "name": "x", "ok": True})
    assert ev.to_json()["kind"] == "eval" and ev.numbers() == {"w2": 0.1}
    for torn in ({"loss": 1.0}, {"step": "3"}, [], None, {"step": 1.5}):
        assert MetricLine.from_json(torn) is None


def _eval(**metrics) -> EvalRecord:
    return EvalRecord("r", "e", "m", "d", 10, 0, 5, "done", 1.0, 0.1, 50, 100, metrics)


def test_eval_record_stores_non_finite_metrics_as_null():
    record = _eval(w2=0.5, dominant=math.nan, big=math.inf)
    assert record.metrics == {"w2": 0.5, "dominant": None, "big": None}
    again = EvalRecord.from_json(record.to_json())
    assert again == record and again.suite == "full"


def test_a_damaged_eval_record_is_refused():
    good = _eval(w2=0.5).to_json()
    with pytest.raises(RunDirError, match="lacks"):
        EvalRecord.from_json({k: v for k, v in good.items() if k != "metrics"})
    with pytest.raises(RunDirError, match="metrics"):
        EvalRecord.from_json({**good, "metrics": {"w2": "low"}})
    with pytest.raises(RunDirError, match="nfe"):
        EvalRecord.from_json({**good, "nfe": 2.5})


def test_the_error_names_the_file_only_when_it_is_known():
    with pytest.raises(RunDirError) as err:
        RunInfo.from_json({"dim": "two"})
    assert str(err.value) == (
        "dim should be an integer, got 'two'; restore the file or train the run again"
    )
    with pytest.raises(RunDirError) as err:
        RunInfo.from_json({"dim": "two"}, "r/run.json")
    assert str(err.value).startswith("r/run.json: dim should be an integer")
