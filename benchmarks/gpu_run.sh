#!/bin/bash
# The device command of benchmarks/bench_gpu.py: run from the repository root on a lent GPU machine, carrying .whl
# and .device-carry (made here by benchmarks/gpu_prepare.sh). The report lands in $OUT (gpu.md, gpu.json,
# curves.png, metrics.csv) with the whole log (gpu.log); data and run go to $WORK (default /tmp/handseg-gpu). Extra
# arguments go to bench_gpu.py, e.g. --minutes 3.
#   device run: bash benchmarks/gpu_run.sh            (timeout_s 600; carry [".whl", ".device-carry"])
# Locally (the CPU check; the wheels are for the device's CPython 3.12): OUT=/tmp/g PY=.venv/bin/python WHEELS=0 \
#   bash benchmarks/gpu_run.sh --device cpu --tiny
set -uo pipefail
: "${OUT:?set OUT to the report folder}"
PY=${PY:-python3}
mkdir -p "$OUT"
{
  echo "== $(date -u +%FT%TZ) host $(hostname)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  if [ "${WHEELS:-1}" = 1 ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:src
  else
    export PYTHONPATH=src
  fi
  export PYTHONUNBUFFERED=1
  $PY -c "import torch, handseg; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'handseg', handseg.__version__)" || exit 4
  real=()
  [ -f .device-carry/dexycb/manifest.json ] && real=(--real .device-carry/dexycb)
  $PY benchmarks/bench_gpu.py --out "$OUT/report" --work "${WORK:-/tmp/handseg-gpu}" "${real[@]}" "$@"
} 2>&1 | tee "$OUT/gpu.log"
status=${PIPESTATUS[0]}
[ -d "$OUT/report" ] && mv "$OUT"/report/* "$OUT"/ && rmdir "$OUT/report"
exit "$status"
