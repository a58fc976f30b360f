#!/bin/bash
# Prepare what benchmarks/bench_gpu.py needs on a lent GPU machine (no network there), here, once:
#   .whl/            wheels of handseg's dependencies that the device image lacks (albumentations and its needs,
#                    python-isal), at the versions this project's .venv holds, for CPython 3.12 x86-64
#   .device-carry/   the real frames to score (DexYCB depth, labels, splits, manifest: no colour, ~9 MB)
# Both folders are git-ignored. Then run on the device (the `device` tool's run verb), carrying both:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1 \
#     && python3 benchmarks/bench_gpu.py --out $OUT --real .device-carry/dexycb --minutes 5
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=${1:-../shared/realdata/dexycb}
PY=.venv/bin/python
[ -f "$REAL/manifest.json" ] || { echo "gpu_prepare: $REAL is not a handseg-v1 dataset (no manifest.json)" >&2; exit 2; }
pins=()
for name in albumentations albucore simsimd stringzilla pydantic pydantic_core annotated-types typing-inspection isal; do
  version=$($PY -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
  [ -n "$version" ] || { echo "gpu_prepare: $name is not installed in .venv (run make install)" >&2; exit 2; }
  pins+=("$name==$version")
done
mkdir -p .whl
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pins[@]}"
rm -rf .device-carry/dexycb
mkdir -p .device-carry/dexycb
cp -r "$REAL/depth" "$REAL/label" "$REAL/splits" "$REAL/manifest.json" .device-carry/dexycb/
du -sh .whl .device-carry
