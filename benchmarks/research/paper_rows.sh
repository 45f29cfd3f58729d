#!/usr/bin/env bash
# The paper-fidelity rows of results/quality.json, over three seeds each, in one scripted batch
# (never in CI: each CCL row trains three models, about 5 minutes each on two cores).
#
#   bash benchmarks/research/paper_rows.sh                  # every row below
#   ROWS="ccl-no-corr ccl-paper" bash benchmarks/research/paper_rows.sh
#
# One row at a time with --merge, so each lands in quality.json (and in docs/results.md and the
# claims table of docs/analysis.md) as soon as it is measured; each entry records its command.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CACHE:-$HOME/.cache/ccl-embed}
CORPUS=${CORPUS:-$CACHE/corpus-v3-aug}
PHOTOS=${PHOTOS:-$CACHE/photos-v2}
PYTHON=${PYTHON:-.venv/bin/python}
SCHEDULE='{"stage1_epochs": 7, "fusion_epochs": 7, "stage2_epochs": 14}'
ROWS=${ROWS:-"supervised supervised-bow ccl-no-corr ccl-no-patches ccl-grid-patches ccl-two-scale-patches
ccl-adaptive-weights ccl-no-inter ccl-no-intra ccl-paper ccl-no-stage1 ccl-own-classifiers ccl-corr-released ccl-no-instance ccl-no-conse ccl-no-skip
ccl-no-input-dropout ccl-paper-fixed-weights ccl-conse-input"}
for row in $ROWS; do
    echo "== $row ($(date -u +%H:%M:%S))"
    "$PYTHON" benchmarks/research/quality.py --corpus "$CORPUS" --photos "$PHOTOS" --ccl-overrides "$SCHEDULE" \
        --rows "$row" --seeds 0 1 2 --merge
done
