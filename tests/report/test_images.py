"""Image-run panels: sample rows per snapshot, the class histogram, their place in the report."""

import json

from pushforward.report import write_report
from pushforward.report.images import class_shares, snapshot_grid_png
from pushforward.run import read_run
from tests.report.fake_runs import make_run_dir


def _with_eval(run, shares):
    record = {"run": str(run), "experiment": run.name, "method": "drifting", "data": {}, "n": 200,
              "seed": 0, "step": 1000, "status": "done", "train_time_s": 1.0,
              "sample_s_per_1k": 0.1, "nfe": 1, "params": 10, "suite": "full",
              "metrics": {**{f"class_hist/{c}": p for c, p in enumerate(shares)},
                          "class_entropy": 2.0, "fd": 10.0}}  # fmt: skip
    (run / "eval.json").write_text(json.dumps(record))


def test_class_shares_are_read_in_class_order():
    assert class_shares({"class_hist/10": 0.1, "class_hist/2": 0.5, "class_hist/0": 0.4}) == [
        0.4, 0.5, 0.1]  # fmt: skip
    assert class_shares({"fd": 1.0}) == []


def test_one_row_of_samples_per_snapshot(tmp_path):
    run = read_run(make_run_dir(tmp_path, "image", n_snapshots=5))
    path = snapshot_grid_png(run, tmp_path / "steps.png", per_row=8)
    assert path is not None and path.stat().st_size > 2000
    assert snapshot_grid_png(read_run(make_run_dir(tmp_path, "2d")), tmp_path / "x.png") is None


def test_the_report_of_an_image_run_has_the_class_histogram_and_the_step_grid(tmp_path):
    run = make_run_dir(tmp_path, "image")
    _with_eval(run, [0.1] * 9 + [0.1])
    page = write_report(run).read_text()
    assert "Class histogram" in page and "class-histogram" in page
    assert (run / "class_histogram.png").is_file() and (run / "samples_steps.png").is_file()
    plain = make_run_dir(tmp_path, "2d")
    assert "Class histogram" not in write_report(plain).read_text()
    assert not (plain / "samples_steps.png").exists()
