"""Checkpoints: atomic writes that survive an interrupted write, a kept previous checkpoint, a
sha256 that finds a flipped bit, clear errors for every kind of damage, and never a pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from pushforward.errors import RunDirError
from pushforward.run import load_checkpoint, load_latest_checkpoint, previous_path, save_checkpoint


def _good_checkpoint(path: Path) -> None:
    save_checkpoint(path, {"model.w": np.arange(6.0, dtype=np.float32).reshape(2, 3)}, {"step": 7})


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-9])


def _no_metadata(path: Path) -> None:
    save_file({"model.w": np.zeros((2, 3), np.float32)}, str(path))


def _broken_json(path: Path) -> None:
    save_file({"model.w": np.zeros((2, 3), np.float32)}, str(path), {"pushforward_state": "{step"})


def _flipped_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # inside the tensor bytes: only the recorded sha256 can tell
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE = [_random_bytes, _truncated, _no_metadata, _broken_json, _flipped_bit, _empty]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_damaged_checkpoint_is_a_clear_error_and_the_previous_one_is_used(tmp_path, damage):
    path = tmp_path / "checkpoint.safetensors"
    _good_checkpoint(path)
    save_checkpoint(path, {"model.w": np.ones((2, 3), np.float32)}, {"step": 9})  # 7 is .prev
    damage(path)
    with pytest.raises(RunDirError, match=r"checkpoint .*checkpoint\.safetensors is corrupt"):
        load_checkpoint(path)
    tensors, state, used = load_latest_checkpoint(path)
    assert used == previous_path(path) and state["step"] == 7
    assert np.array_equal(tensors["model.w"], np.arange(6.0).reshape(2, 3))
    damage(previous_path(path))
    with pytest.raises(RunDirError, match=r"neither checkpoint.*checkpoint\.prev\.safetensors"):
        load_latest_checkpoint(path)


def test_checkpoint_keeps_the_previous_and_never_unpickles(tmp_path):
    path = tmp_path / "c.safetensors"
    for step in (1, 2, 3):
        save_checkpoint(path, {"x": np.full(3, float(step), np.float32)}, {"step": step})
    assert load_checkpoint(path)[1]["step"] == 3
    assert load_checkpoint(previous_path(path))[1]["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.prev.safetensors", "c.safetensors"]
    # a pickle (what torch.save writes) is refused, not executed
    path.write_bytes(pickle.dumps({"x": [0.0]}))
    with pytest.raises(RunDirError, match="corrupt"):
        load_checkpoint(path)


def test_digest_is_the_one_older_checkpoints_carry():
    """The sha256 hashes dtypes by torch's names, so checkpoints written before the run package
    (from torch tensors) still verify: this is the digest of a known array."""
    from pushforward.run.checkpoint import _digest

    digest = _digest({"w": np.arange(3, dtype=np.float32)})
    import hashlib

    h = hashlib.sha256()
    h.update(b"w|torch.float32|[3]|")
    h.update(np.arange(3, dtype=np.float32).tobytes())
    assert digest == h.hexdigest()


INTERRUPTED = """
import resource, signal, sys
import numpy as np
from pushforward.run import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises, not kills
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
big = {"model.w": np.ones(1_000_000, np.float32)}  # 4 MB: the write fails part-way
try:
    save_checkpoint(sys.argv[1], big, {"step": 2})
except OSError as e:
    print("interrupted:", e.strerror)
    sys.exit(3)
sys.exit(0)
"""


def test_a_write_interrupted_part_way_leaves_the_previous_checkpoint_intact(tmp_path):
    """A real fault: the file-size limit (a full disk, for the writer) stops the new checkpoint
    after 200 kB. The previous checkpoint must stay byte-identical under the final name, with
    no partial file anywhere; an in-place write would truncate it and leave half a file."""
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {"model.w": np.arange(100, dtype=np.float32)}, {"step": 1})
    before = path.read_bytes()
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(INTERRUPTED), str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 3, child.stdout + child.stderr
    assert "interrupted" in child.stdout
    assert path.read_bytes() == before
    assert load_checkpoint(path)[1]["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]


def test_state_must_be_json_with_an_integer_step(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"x": np.zeros(1, np.float32)}, {"step": 1, "extra": [1, 2]})
    arrays, state = load_checkpoint(path)
    assert state == {"step": 1, "extra": [1, 2]} and arrays["x"].dtype == np.float32
    save_file({"x": np.zeros(1, np.float32)}, str(path), {"pushforward_state": json.dumps({})})
    with pytest.raises(RunDirError, match="integer 'step'"):
        load_checkpoint(path)
    with pytest.raises(RunDirError, match="train first"):
        load_checkpoint(tmp_path / "none.safetensors")


def _step_not_an_integer(path: Path) -> None:
    save_file({"model.w": np.zeros((2, 3), np.float32)}, str(path),
              {"pushforward_state": json.dumps({"step": "7"})})  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_no_metadata, "ValueError: no pushforward state in its metadata (not a pushforward "
                       "checkpoint)"),
        (_step_not_an_integer, "ValueError: its state has no integer 'step'"),
        (_flipped_bit, "ValueError: the tensors do not match their recorded sha256"),
        (_broken_json, "(JSONDecodeError: "),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)  # fmt: skip
def test_each_kind_of_damage_is_named_in_the_error(tmp_path, damage, reason):
    path = tmp_path / "checkpoint.safetensors"
    _good_checkpoint(path)
    damage(path)
    with pytest.raises(RunDirError) as error:
        load_checkpoint(path)
    assert reason in str(error.value) and str(error.value).endswith("it cannot be loaded")


def test_when_neither_checkpoint_loads_the_error_says_to_start_again(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    _good_checkpoint(path)
    _good_checkpoint(path)
    _empty(path)
    _no_metadata(previous_path(path))
    with pytest.raises(RunDirError) as error:
        load_latest_checkpoint(path)
    assert str(error.value).endswith("Start the run again without --resume (--overwrite)")


def test_an_array_of_a_dtype_checkpoints_do_not_hold_is_refused_before_writing(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    with pytest.raises(ValueError, match="array 'z' has dtype complex64, which checkpoints do not"):
        save_checkpoint(path, {"z": np.zeros(2, np.complex64)}, {"step": 1})
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeping_the_previous_checkpoint_leaves_no_temp_file(tmp_path, monkeypatch):
    import pushforward.run.checkpoint as checkpoint

    path = tmp_path / "checkpoint.safetensors"
    _good_checkpoint(path)
    before = path.read_bytes()

    def disk_full(_path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_keep_previous", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"model.w": np.ones((2, 3), np.float32)}, {"step": 9})
    assert [p.name for p in tmp_path.iterdir()] == [path.name] and path.read_bytes() == before
