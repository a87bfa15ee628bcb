#!/usr/bin/env bash
# CPU numbers for every registered generator: eager vs torch.compile vs ONNX Runtime.
#
#   tools/bench_all.sh [OUTDIR] [extra ganzoo bench options...]
#
# Writes OUTDIR/bench-cpu.json (every figure, per-iteration timings, machine and versions) and OUTDIR/bench-cpu.png,
# and prints the table. Environment overrides: BATCHES (default 1,4), BACKENDS (default eager,compile,onnxruntime),
# DTYPES (default fp32), THREADS (default: all cores; use 1 on a machine shared with other jobs, where OpenMP
# spin-waiting makes multi-threaded eager timings meaningless), MODELS (default '*': every registered model).
# Exit status: that of `ganzoo bench` (1 if any cell failed with an error; unavailable/unsupported/oom are not errors).
set -euo pipefail

OUTDIR="${1:-bench-out}"
shift || true
BATCHES="${BATCHES:-1,4}"
BACKENDS="${BACKENDS:-eager,compile,onnxruntime}"
DTYPES="${DTYPES:-fp32}"
MODELS="${MODELS:-*}"
THREAD_ARGS=()
if [[ -n "${THREADS:-}" ]]; then THREAD_ARGS=(--threads "$THREADS"); fi

# shellcheck disable=SC2086  # MODELS may hold several names
set -f
exec python -m ganzoo.cli bench $MODELS \
    --backends "$BACKENDS" --batch "$BATCHES" --dtype "$DTYPES" --device cpu \
    --warmup 3 --iters 10 --min-time 1.0 \
    "${THREAD_ARGS[@]}" -o "$OUTDIR" --prefix bench-cpu "$@"
