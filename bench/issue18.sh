#!/usr/bin/env bash
# Issue 18 acceptance on the shared data, end to end (about 10 min on 2 shared cores):
# the CLEVR run (all generators), its leak checks and blind baseline, the independent checker
# on it and on a synth run, and the synth run's point-depth answers against its depth maps.
# Usage: bench/issue18.sh [OUT_DIR]   (default /tmp/issue18)
# Exit status: non-zero when a check fails (bench/leaks.py, bench/checker_agreement.py).
set -euo pipefail
out=${1:-/tmp/issue18}
clevr=${CLEVR:-../shared/data/clevr/CLEVR_train_scenes_1000.json}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the blind fits: one thread is faster on 2 cores
rm -rf "$out/clevr_qa" "$out/synth_run"
mkdir -p "$out"
python -m scenesynth generate --source "$clevr" --generators all --per-image 3 \
    --format parquet --seed 0 --out "$out/clevr_qa" --workers 2
status=0
python bench/leaks.py "$out/clevr_qa" "$clevr" --blind || status=1
python bench/checker_agreement.py "$out/clevr_qa" || status=1
python -m scenesynth synth --scenes 450 --out "$out/synth_run" --seed 3 --workers 2 --save-depth
python bench/checker_agreement.py "$out/synth_run" || status=1
# point-depth answers against the rendered depth map at the two pixels each question gives
python tests/generators/test_points_synth.py "$out/synth_run"
exit $status
