#!/usr/bin/env bash
# The wheel works without the repository: build it, install it into a fresh
# venv, and run a one-epoch holdout from an unrelated directory.
#   scripts/check_wheel.sh            (make check-wheel; .ci/run calls it)
# TORCH (default torch==2.13.0, the CPU build) is installed first, as in
# `make install`; the dataset mirror comes from POOLBENCH_DATA_MIRROR.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
mirror=${POOLBENCH_DATA_MIRROR:-$(cd "$repo/.." && pwd)/shared/datasets}
torch_spec=${TORCH-torch==2.13.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$repo"
python -m venv "$work/venv"
pip="$work/venv/bin/python -m pip"
$pip install -q --disable-pip-version-check ${torch_spec:+"$torch_spec"}
$pip install -q --disable-pip-version-check "$work"/dist/poolbench-*.whl
mkdir "$work/elsewhere" && cd "$work/elsewhere"
POOLBENCH_DATA="$work/data" POOLBENCH_DATA_MIRROR="$mirror" OMP_NUM_THREADS=1 \
  "$work/venv/bin/poolbench" train pooler=mincut dataset=mutag protocol=holdout \
  trainer.max_epochs=1 results.dir="$work/results"
"$work/venv/bin/python" - "$work/results/results.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1 and rows[0]["status"] == "ok", rows
print(f"check-wheel: ok, one holdout row, test_acc={float(rows[0]['test_acc']):.3f}")
PY
