"""The command line end to end: list, run, sample, data, errors."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pushforward.cli import main

FAST = [
    "--steps",
    "40",
    "--quiet",
    "--set",
    "train.snapshots=3",
    "--set",
    "train.snapshot_samples=200",
    "--set",
    "train.eval_samples=200",
    "--set",
    "net.width=32",
]


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "drift-bimodal" in out and "fm-bimodal" in out


def test_run_then_sample_flow(tmp_path, capsys):
    out = tmp_path / "fm"
    assert main(["run", "fm-bimodal", "--out", str(out), *FAST]) == 0
    assert (out / "report.html").exists() and (out / "checkpoint.safetensors").exists()
    npy = tmp_path / "s.npy"
    assert (
        main(["sample", str(out), "-n", "300", "-o", str(npy), "--solver", "rk4", "--nfe", "8"])
        == 0
    )
    x = np.load(npy, allow_pickle=False)
    assert x.shape == (300, 2) and x.dtype == np.float32
    # same seed, same samples
    npy2 = tmp_path / "s2.npy"
    main(["sample", str(out), "-n", "300", "-o", str(npy2), "--solver", "rk4", "--nfe", "8"])
    assert np.array_equal(x, np.load(npy2))


def test_existing_run_needs_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["run", "drift-bimodal", "--out", str(out), "--no-report", *FAST]) == 0
    assert main(["run", "drift-bimodal", "--out", str(out), "--no-report", *FAST]) == 2
    assert "--resume" in capsys.readouterr().err
    # resuming may extend the run: --steps given twice, the last (50) wins
    assert (
        main(
            [
                "run",
                "drift-bimodal",
                "--out",
                str(out),
                "--no-report",
                "--resume",
                *FAST,
                "--steps",
                "50",
            ]
        )
        == 0
    )
    import json

    assert json.loads((out / "run.json").read_text())["step"] == 50
    assert (
        main(["run", "drift-bimodal", "--out", str(out), "--no-report", "--overwrite", *FAST]) == 0
    )


def test_bad_set_key_is_a_clear_error(tmp_path, capsys):
    code = main(["run", "drift-bimodal", "--out", str(tmp_path / "x"), "--set", "train.stpes=3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown key train.stpes" in err and "did you mean 'steps'" in err
    assert not (tmp_path / "x").exists()


def test_sample_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["sample", str(tmp_path), "-n", "3", "-o", str(tmp_path / "a.npy")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_device_that_is_not_there(tmp_path, capsys):
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["run", "fm-bimodal", "--out", str(tmp_path / "c"), "--device", "cuda"]) == 2
    assert "cuda is not available" in capsys.readouterr().err


def test_data_commands(tmp_path, capsys):
    assert main(["data", "list"]) == 0
    assert "bimodal" in capsys.readouterr().out
    npy = tmp_path / "m.npy"
    assert main(["data", "sample", "moons", "-n", "50", "-o", str(npy), "--seed", "3"]) == 0
    assert np.load(npy).shape == (50, 2)
    assert main(["data", "sample", "gaussian", "-n", "5", "-o", str(npy), "--set", "dim=7"]) == 0
    assert np.load(npy).shape == (5, 7)
    with pytest.raises(SystemExit) as exit_:
        main(["data", "sample", "moons", "-n", "5", "-o", str(tmp_path / "m.txt")])
    assert exit_.value.code == 2
    assert "output must end in .npy" in capsys.readouterr().err


def test_console_script_end_to_end(tmp_path):
    """The installed `pushforward` entry point, as a user runs it."""
    exe = os.path.join(os.path.dirname(sys.executable), "pushforward")
    out = tmp_path / "drift"
    done = subprocess.run(
        [exe, "run", "drift-bimodal", "--out", str(out), "--no-report", *FAST],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [exe, "sample", str(out), "-n", "100", "-o", str(tmp_path / "s.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "s.npy").shape == (100, 2)


def test_rank_command_on_digits_writes_its_table_and_spectrum(tmp_path, capsys):
    out = tmp_path / "rank"
    assert main(["rank", "digits", "--splits", "train,all", "--rank", "20", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| tolerance (× λ_max) | rank, train (n=1497) | rank, all (n=1797) |" in text
    assert "| 0.1 | 14 | 14 |" in text  # 14 eigenvalues above a tenth of the largest
    assert {p.name for p in out.iterdir()} == {"rank.md", "rank.json", "spectrum.png"}


def test_curves_command_draws_a_snapshot_metric_of_several_runs(tmp_path, capsys):
    folder = tmp_path / "runs"
    for name, lr in (("a", "1e-3"), ("b", "3e-3")):
        argv = ["run", "fm-bimodal", "--out", str(folder / name), "--steps", "40", "--quiet",
                "--no-report", "--set", "net.width=16", "--set", f"train.lr={lr}",
                "--set", "train.snapshots=4", "--set", "train.eval_samples=200"]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "c"
    assert main(["curves", str(folder), "--metric", "energy_distance", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| a | 40 |" in text and "| b | 40 |" in text
    assert out.with_suffix(".png").stat().st_size > 5000 and out.with_suffix(".md").is_file()
    assert main(["curves", str(folder), "--metric", "nope", "--out", str(out)]) == 2
    # runs of the same name in two folders are told apart by their path below the common folder
    twin = tmp_path / "more" / "a"
    shutil.copytree(folder / "a", twin)
    capsys.readouterr()
    assert main(["curves", str(folder / "a"), str(twin), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| runs/a | 40 |" in text and "| more/a | 40 |" in text
