#!/usr/bin/env bash
# The main job on the shipped sample patient: install, build, and run the whole
# pipeline (gain -> SEEG feature -> Bayesian fit -> propagation -> virtual
# surgery -> report) on data-samples/patient.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
mkdir -p out
build/cli/vbt pipeline data-samples/patient -o out/sample_patient --threads 2
echo "sample patient: open $(pwd)/out/sample_patient/report.html (machine-readable: results.json)"
