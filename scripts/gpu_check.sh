#!/usr/bin/env bash
# The GPU measurements of issue 22 in one go, for a lent GPU's few minutes (`make gpu-check`).
#
#   scripts/gpu_check.sh [FOLDER]      (default: ${OUT:-runs/gpu-check})
#
# Runs on --device cuda, each step under `timeout` and all of them inside one time budget:
#   field-d2     bench field, d = 2, N = 4096 16384 65536 (--reference-max-gib 60)
#   field-d784   bench field, d = 784, N = 4096 16384 (--reference-max-gib 60)
#   candidates   scripts/field_candidates.py at N = 16384: the first pass by torch, torch.compile,
#                flex attention (and KeOps where it imports), the data to pick a GPU backend by
#   train        bench train (flow matching vs the peers, drifting, sampling)
#   field-bign   bench field, d = 2, N = 1 000 000, best of 1 (the reference is skipped)
# and writes into FOLDER: env.txt (nvidia-smi, torch, the device's name), tables.md (each step's
# command, status, seconds and Markdown table, then the summary), one CSV per step and log.txt
# (the steps' stderr). Seven files: the lent machine sends back at most eight.
#
# It fails soft: a step that fails or runs out of time is marked so and the next one runs; the
# summary lists each step's status; the exit code is 1 if any step did not pass. Without CUDA
# it stops at once (exit 2), writing nothing; exit 3 if `$PY -m pushforward` does not start.
#
# Environment:
#   PY                   the Python that holds torch with CUDA (default: python3)
#   GPU_CHECK_BUDGET     seconds for everything (default 540, under a 600 s device call)
#   GPU_CHECK_BIG_N      the big-N point (default 1000000)
#   GPU_CHECK_WHEELS     a folder of wheels installed (--no-deps) into a temporary folder on
#                        PYTHONPATH first, for packages the machine lacks (default: .whl)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-${OUT:-runs/gpu-check}}
PY=${PY:-python3}
BUDGET=${GPU_CHECK_BUDGET:-540}
BIG_N=${GPU_CHECK_BIG_N:-1000000}
WHEELS=${GPU_CHECK_WHEELS:-$ROOT/.whl}

# the wheels first: torch may come from them too
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    SITE=$(mktemp -d)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
        "$WHEELS"/*.whl || echo "gpu-check: installing the wheels of $WHEELS failed" >&2
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# this checkout's code, whether or not the package is installed
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

if ! have=$("$PY" -c 'import sys, torch
print("torch", torch.__version__)
sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null); then
    echo "gpu-check: no CUDA device: $PY has ${have:-no torch}, and torch.cuda.is_available()" \
        "is not true. Run this on a machine with an NVIDIA GPU and a CUDA build of torch (set" \
        "PY to its Python); nothing was measured." >&2
    exit 2
fi

mkdir -p "$DIR" || exit 2
DIR=$(cd "$DIR" && pwd)
TABLES=$DIR/tables.md
LOG=$DIR/log.txt
: >"$LOG"
{
    echo "# GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
} >"$TABLES"

START=$SECONDS
SUMMARY=()
FAILED=0

# step NAME TIMEOUT COMMAND...: run COMMAND for at most TIMEOUT s (less if the budget is short)
step() {
    local name=$1 limit=$2 left rc status tic
    shift 2
    left=$((BUDGET - (SECONDS - START)))
    ((left < limit)) && limit=$left
    tic=$SECONDS
    echo "gpu-check: $name ($*), at most ${limit}s" >&2
    if ((limit < 2)); then
        rc=124
        status="skipped (budget spent)"
    else
        echo "== $name: $*" >>"$LOG"
        timeout --kill-after=10 "$limit" "$@" >"$DIR/.out" 2>>"$LOG"
        rc=$?
        case $rc in
            0) status=passed ;;
            124 | 137) status="timed out after ${limit}s" ;;
            *) status="failed (exit $rc)" ;;
        esac
    fi
    ((rc == 0)) || FAILED=$((FAILED + 1))
    {
        echo "## $name: $status, $((SECONDS - tic)) s"
        echo
        echo "\`$*\`"
        echo
        [[ -s $DIR/.out ]] && cat "$DIR/.out" && echo
    } >>"$TABLES"
    rm -f "$DIR/.out"
    SUMMARY+=("$name: $status ($((SECONDS - tic)) s)")
    echo "gpu-check: $name $status" >&2
    return 0
}

# env.txt: the machine (never fatal)
{
    echo "== nvidia-smi"
    timeout 30 nvidia-smi 2>&1 || echo "(nvidia-smi failed or is missing)"
    echo
    echo "== torch"
    timeout 60 "$PY" -c '
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda)
p = torch.cuda.get_device_properties(0)
print("device", torch.cuda.get_device_name(), f"{p.total_memory / 2**30:.1f} GiB,",
      p.multi_processor_count, "SMs")
' 2>&1 || echo "(torch failed)"
} >"$DIR/env.txt"

PF=("$PY" -m pushforward)
if ! "${PF[@]}" --help >/dev/null 2>>"$LOG"; then
    echo "gpu-check: \`$PY -m pushforward\` does not start (see $LOG): carry the missing" \
        "packages as wheels in $WHEELS (docs/benchmarks.md, 'On a lent GPU')" >&2
    tail -3 "$LOG" >&2
    exit 3
fi
FIELD=("${PF[@]}" bench field --device cuda --reference-max-gib 60)

step field-d2 120 "${FIELD[@]}" --dims 2 --sizes 4096 16384 65536 --csv "$DIR/field-d2.csv"
step field-d784 120 "${FIELD[@]}" --dims 784 --sizes 4096 16384 --csv "$DIR/field-d784.csv"
step candidates 90 "$PY" "$ROOT/scripts/field_candidates.py" --device cuda --n 16384
step train 150 "${PF[@]}" bench train --device cuda --csv "$DIR/train.csv"
step field-bign 400 "${FIELD[@]}" --dims 2 --sizes "$BIG_N" --repeat 1 --csv "$DIR/field-bign.csv"

{
    echo "## Summary: $((${#SUMMARY[@]} - FAILED)) of ${#SUMMARY[@]} steps passed in $((SECONDS - START)) s"
    echo
    printf -- '- %s\n' "${SUMMARY[@]}"
} | tee -a "$TABLES"
echo "gpu-check: tables in $DIR" >&2
((FAILED == 0))
