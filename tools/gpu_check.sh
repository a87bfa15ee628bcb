#!/usr/bin/env bash
# One prepared GPU check, run from the repository root on a CUDA machine:
#
#   tools/gpu_check.sh                 # results in $OUT (if set) or ./gpu-check-out
#
# In order:
#   1. installs what it needs (ganzoo editable with the test + triton extras, tensorrt, onnxruntime-gpu), each step
#      allowed to fail (an offline machine keeps what it has; the log says what was missing);
#   2. tests/test_export_tensorrt.py (engines are built where tensorrt + CUDA exist);
#   3. the kernel tests on CUDA: tests/test_kernels.py with GANZOO_KERNEL_TEST_DEVICE=cuda (no interpreter; includes
#      the @gpu tests: opcheck on CUDA, torch.compile / torch.export / CUDA graphs of the Triton path);
#   4. the kernel benchmark, tools/bench_kernels.py (per layer and end to end, batch 1 and 8, fp16).
# Environment: OUT, PYTHON (default python3), BENCH_ARGS (extra bench_kernels.py options, e.g. "--no-compile"),
# SKIP_INSTALL=1. Writes: OUT/gpu_check.log, env.txt, pip.log, *.txt / *.xml (pytest), bench_kernels.{json,md}.
# Exit status: 0 if every step passed, else the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
LOG="$OUT/gpu_check.log"
failed=0
log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
step() {  # step NAME OUTFILE CMD...: run, tee, record the status
    local name="$1" out="$2"
    shift 2
    log "start: $name"
    "$@" 2>&1 | tee "$OUT/$out"
    local rc=${PIPESTATUS[0]}
    if [[ $rc -eq 0 ]]; then log "ok: $name"; else log "FAILED ($rc): $name"; failed=$((failed + 1)); fi
}

{
    nvidia-smi || echo "nvidia-smi: not available"
    "$PY" -c "import sys, torch; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')" \
        || echo "torch: not importable"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$LOG"

if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
    log "installing (failures are logged, not fatal)"
    "$PY" -m pip install -q -e ".[test,triton,onnx]" >> "$OUT/pip.log" 2>&1 \
        || log "pip install -e .[test,triton,onnx] failed (offline?): see pip.log"
    "$PY" -m pip install -q "tensorrt>=10" "cuda-python>=12" >> "$OUT/pip.log" 2>&1 \
        || log "tensorrt / cuda-python not installed: the TensorRT tests and bench columns will be skipped"
    "$PY" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" \
        2>/dev/null || "$PY" -m pip install -q onnxruntime-gpu >> "$OUT/pip.log" 2>&1 \
        || log "onnxruntime-gpu not installed: the ORT CUDA column will be skipped"
fi
"$PY" -c "import triton, torch; print('triton', triton.__version__)" 2>&1 | tee -a "$LOG"

step "tests/test_export_tensorrt.py" test_export_tensorrt.txt \
    "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_export_tensorrt.py --junitxml="$OUT/test_export_tensorrt.xml"

step "kernel tests on CUDA" test_kernels_cuda.txt \
    env GANZOO_KERNEL_TEST_DEVICE=cuda TRITON_INTERPRET=0 \
    "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_kernels.py --junitxml="$OUT/test_kernels_cuda.xml"

# shellcheck disable=SC2086  # BENCH_ARGS holds several options
step "kernel benchmark" bench_kernels.txt \
    env TRITON_INTERPRET=0 "$PY" tools/bench_kernels.py --out "$OUT" ${BENCH_ARGS:-}

log "done: $failed failed step(s); results in $OUT"
exit "$failed"
