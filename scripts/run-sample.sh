#!/usr/bin/env bash
# The main job on the shipped sample patient: install, build, and simulate the
# TVB epilepsy-tutorial seizure on the 76-region connectome.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
mkdir -p out
build/cli/vbt simulate data-samples/epileptor_tutorial.json -o out/epileptor_tutorial --force
echo "sample patient: outputs in $(pwd)/out/epileptor_tutorial (see run.json for what each file holds)"
