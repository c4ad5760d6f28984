"""The fused CPU backend of the kernel fields: distance, kernel, exp and sums of a pair in one loop.

`fused.c` (beside this file) is compiled once with the system C compiler (`cc`, OpenMP,
`-march=native`) into a cache folder (`$PUSHFORWARD_KERNEL_CACHE`, else
`~/.cache/pushforward/kernels`), keyed by the source, the flags, the compiler and the CPU's
instruction sets, and loaded through ctypes: no pickle, no build step at install. Where no
compiler works the backend is unavailable (`available()` is False, `reason()` says why) and
every field runs its portable torch code, which gives the same result up to float rounding.
`PUSHFORWARD_FIELD_BACKEND=torch` in the environment turns the fused kernels off for the whole
process (for A/B timings).

The reductions, float32 on the CPU (a field's memory stays O(rows · tile)):

* `reduce(x [n, d], y [m, d], …) -> (lse [n], mean [n, d] | None)`: per row, the log-sum-exp of
  the kernel logits l_ij + b_j and the softmax-weighted mean of y, computed from the points in
  one sweep over cache-resident tiles (small d: no [n, m] matrix is ever written);
* `block_stats` / `block_softmax`: the same reductions on a block of logits a BLAS product made
  (large d, where the distances are a matrix product), in place;
* `lse`: log-sum-exps of a stored logit matrix plus a bias, over rows or columns (the Sinkhorn
  sweeps on cached logits at large d);
* `gaussian_sum`: Σ_ij of a Gaussian kernel with its gradients (autograd), for the MMD losses.

Measured against KeOps (`pykeops` 2.3) and `torch.compile` on this project's CPU before it was
written: docs/benchmarks.md.

Example:
    >>> import torch
    >>> x, y = torch.zeros(1, 2), torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    >>> if available():
    ...     lse, mean = reduce(x, y, 5.0, "laplace", mean=True)
    ...     print(round(float(lse), 4), [[round(v, 4) for v in mean[0].tolist()]])
    ... else:
    ...     print(0.3133, [[0.8068, 1.0758]])
    0.3133 [[0.8068, 1.0758]]
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "BACKENDS",
    "LOW",
    "POINTS_MAX_D",
    "available",
    "reason",
    "use_fused",
    "from_points",
    "reduce",
    "block_stats",
    "block_softmax",
    "lse",
    "gaussian_sum",
]

BACKENDS = ("auto", "torch", "fused")
LOW = -3.0e38  # the C code's start of a running maximum (below every logit)
POINTS_MAX_D = 16  # up to this d distances come from the points; above, BLAS is faster (measured)
SOURCE = Path(__file__).with_name("fused.c")
FLAGS = (
    "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-fno-math-errno",
    "-fno-trapping-math", "-fno-signed-zeros", "-fassociative-math", "-ffinite-math-only",
)  # fmt: skip
# reassociation lets the sums and maxima vectorise; the flags that would set flush-to-zero for
# the whole process (-ffast-math, -funsafe-math-optimizations link crtfastmath) stay out

_P, _I64, _F, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int
_SIGNATURES = {
    "pf_reduce": [_P, _I64, _P, _I64, _I64, _F, _INT, _P, _INT, _I64, _P, _P, _INT],
    "pf_block_stats": [_P, _I64, _I64, _F, _INT, _INT, _I64, _P, _P, _P, _INT],
    "pf_block_softmax": [_P, _I64, _I64, _I64, _INT, _F, _INT, _INT, _I64, _P, _P, _P, _INT],
    "pf_rows_lse": [_P, _I64, _I64, _P, _P, _INT],
    "pf_cols_lse": [_P, _I64, _I64, _P, _P, _INT],
}


def _cache_dir() -> Path:
    """Where compiled kernels live: $PUSHFORWARD_KERNEL_CACHE, else the user's cache folder."""
    if os.environ.get("PUSHFORWARD_KERNEL_CACHE"):
        return Path(os.environ["PUSHFORWARD_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pushforward" / "kernels"


def _cpu_flags() -> str:
    """The processor's instruction-set flags (Linux /proc/cpuinfo; else the platform's name)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compile(compiler: str, target: Path) -> None:
    """Compile fused.c into `target`, atomically (a temporary file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        subprocess.run(
            [compiler, *FLAGS, str(SOURCE), "-o", str(out), "-lm"],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        os.replace(out, target)


@functools.cache
def _library() -> tuple[ctypes.CDLL | None, str]:
    """(the loaded kernel library, "") or (None, why it is unavailable); built on first use."""
    if os.environ.get("PUSHFORWARD_FIELD_BACKEND") == "torch":
        return None, "PUSHFORWARD_FIELD_BACKEND=torch"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc or gcc) on PATH"
    try:
        version = subprocess.run(
            [compiler, "--version"], check=True, capture_output=True, text=True, timeout=30
        ).stdout
        key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + version.encode())
        key.update(_cpu_flags().encode())  # -march=native: a shared cache must not mix CPUs
        target = _cache_dir() / f"fused-{key.hexdigest()[:16]}.so"
        if not target.exists():
            _compile(compiler, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        return None, f"the fused kernels did not build: {detail.strip()[:500]}"
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, None
    return lib, ""


def available() -> bool:
    """Whether the fused kernels are built and loaded (compiling them on first call)."""
    return _library()[0] is not None


def reason() -> str:
    """Why the fused backend is unavailable ("" when it is available)."""
    return _library()[1]


def use_fused(backend: str, x: Tensor) -> bool:
    """Whether a field with `backend` runs the fused kernels on `x`: "auto" where they apply
    (float32 on the CPU) and build, "fused" there or an error, "torch" never."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown field backend {backend!r}; choose one of {BACKENDS}")
    if backend == "torch":
        return False
    fits = x.device.type == "cpu" and x.dtype == torch.float32
    if backend == "auto":
        return fits and available()
    if not fits:
        raise ValueError(
            f"the fused field backend runs float32 on the CPU; got {x.dtype} on {x.device}: "
            'use backend "auto" or "torch"'
        )
    if not available():
        raise RuntimeError(f"the fused field backend is unavailable: {reason()}")
    return True


def from_points(backend: str, x: Tensor) -> bool:
    """Whether a field runs `reduce` from the points on `x [n, d]`: `use_fused` and d ≤
    `POINTS_MAX_D` (families without a BLAS-block path run their torch code above it)."""
    return use_fused(backend, x) and x.shape[1] <= POINTS_MAX_D


def _ptr(t: Tensor | None) -> int | None:
    """The data pointer of a contiguous float32 CPU tensor (None stays None)."""
    if t is None:
        return None
    if not (t.is_contiguous() and t.dtype == torch.float32 and t.device.type == "cpu"):
        raise ValueError("fused kernels take contiguous float32 CPU tensors")
    return t.data_ptr()


def _scale(temperature: float, kernel: str) -> tuple[float, int]:
    """(a, gaussian): the logit is −a‖x−y‖ (laplace, a = 1/τ) or −a‖x−y‖² (a = 1/2τ²)."""
    if kernel == "laplace":
        return 1.0 / temperature, 0
    if kernel == "gaussian":
        return 1.0 / (2.0 * temperature**2), 1
    raise ValueError(f"unknown kernel {kernel!r}; choose laplace or gaussian")


def reduce(
    x: Tensor,
    y: Tensor,
    temperature: float,
    kernel: str,
    *,
    bias: Tensor | None = None,
    mask_offset: int | None = None,
    mean: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Row log-sum-exps `[n]` of l_ij + b_j and, with `mean`, softmax means of `y` `[n, d]`.

    l_ij is the kernel logit of `x [n, d]` and `y [m, d]`; `bias [m]` is added per column;
    `mask_offset` k masks the pairs (i, i + k) (None: no mask).
    """
    lib = _library()[0]
    if lib is None:
        raise RuntimeError(f"the fused field backend is unavailable: {reason()}")
    x = x.contiguous()
    y_t = y.T.contiguous()
    a, gaussian = _scale(float(temperature), kernel)
    n, d = x.shape
    lse = x.new_empty(n)
    out = x.new_empty(n, d) if mean else None
    b = None if bias is None else bias.contiguous()
    masked = mask_offset is not None
    lib.pf_reduce(
        _ptr(x), n, _ptr(y_t), y.shape[0], d, a, gaussian, _ptr(b), int(masked),
        int(mask_offset or 0), _ptr(lse), _ptr(out), torch.get_num_threads(),
    )  # fmt: skip
    return lse, out


def block_stats(
    v: Tensor,
    temperature: float,
    kernel: str,
    mask_start: int | None,
    col_top: Tensor,
    col_sum: Tensor,
) -> Tensor:
    """Row log-sum-exps `[c]` of a BLAS block `v [c, m]`, turned into logits in place.

    `v` holds squared distances (laplace) or the logits (gaussian) of rows `mask_start` on
    (None: no self-pairs); the block's columns fold into the running column log-sum-exp
    `(col_top [m], col_sum [m])` (start: `LOW`, 0; the log-sum-exp is top + log sum).
    """
    lib = _library()[0]
    a = 1.0 / temperature
    row_lse = v.new_empty(v.shape[0])
    lib.pf_block_stats(
        _ptr(v), v.shape[0], v.shape[1], a, int(kernel == "laplace"), int(mask_start is not None),
        int(mask_start or 0), _ptr(row_lse), _ptr(col_top), _ptr(col_sum),
        torch.get_num_threads(),
    )  # fmt: skip
    return row_lse


def block_softmax(
    v: Tensor,
    m_neg: int,
    col_bias: Tensor | None,
    *,
    raw: bool,
    temperature: float,
    kernel: str,
    mask_start: int | None,
) -> tuple[Tensor, Tensor]:
    """Per-part softmax weights of a block `v [c, m]`, in place (negatives' negated), and the
    parts' log-sum-exps `([c], [c])`; `raw`: `v` is the BLAS output (see `block_stats`)."""
    lib = _library()[0]
    lse_neg, lse_pos = v.new_empty(v.shape[0]), v.new_empty(v.shape[0])
    lib.pf_block_softmax(
        _ptr(v), v.shape[0], v.shape[1], m_neg, int(raw), 1.0 / temperature,
        int(kernel == "laplace"), int(mask_start is not None), int(mask_start or 0),
        _ptr(col_bias), _ptr(lse_neg), _ptr(lse_pos), torch.get_num_threads(),
    )  # fmt: skip
    return lse_neg, lse_pos


def lse(v: Tensor, dim: int, bias: Tensor | None = None) -> Tensor:
    """log Σ exp(v + bias) of a stored logit matrix `v [c, m]` over `dim`: 1 gives `[c]` (bias
    `[m]` per column), 0 gives `[m]` (bias `[c]` per row); one read of `v`."""
    lib = _library()[0]
    if lib is None:
        raise RuntimeError(f"the fused field backend is unavailable: {reason()}")
    c, m = v.shape
    b = None if bias is None else bias.contiguous()
    if dim == 1:
        out = v.new_empty(c)
        lib.pf_rows_lse(_ptr(v), c, m, _ptr(b), _ptr(out), torch.get_num_threads())
    elif dim == 0:
        out = v.new_empty(m)
        lib.pf_cols_lse(_ptr(v), c, m, _ptr(b), _ptr(out), torch.get_num_threads())
    else:
        raise ValueError(f"dim is 0 (over rows) or 1 (over columns), got {dim}")
    return out


class _GaussianSum(torch.autograd.Function):
    """Σ_ij exp(−‖x_i − y_j‖²/2h²) with its gradients, both by `reduce` (no [n, m] matrix)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, h: float, diagonal: bool) -> Tensor:
        mask = 0 if diagonal else None
        lse, mean = reduce(x, y, h, "gaussian", mask_offset=mask, mean=True)
        ctx.save_for_backward(x, y, lse, mean)
        ctx.h, ctx.mask = h, mask
        return lse.exp().sum()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        x, y, lse, mean = ctx.saved_tensors
        scale = grad / ctx.h**2  # ∂/∂x_i Σ_j k_ij = Σ_j k_ij (y_j − x_i)/h²
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = scale * lse.exp().unsqueeze(1) * (mean - x)
        if ctx.needs_input_grad[1]:
            lse_y, mean_y = reduce(y, x, ctx.h, "gaussian", mask_offset=ctx.mask, mean=True)
            grad_y = scale * lse_y.exp().unsqueeze(1) * (mean_y - y)
        return grad_x, grad_y, None, None


def gaussian_sum(x: Tensor, y: Tensor, bandwidth: float, exclude_diagonal: bool = False) -> Tensor:
    """Σ_ij exp(−‖x_i − y_j‖²/2h²) (a scalar) of `x [n, d]`, `y [m, d]`, differentiable in both;
    `exclude_diagonal` (y is x) leaves out i = j. The MMD losses' kernel sums, fused."""
    return _GaussianSum.apply(x, y, float(bandwidth), exclude_diagonal)
