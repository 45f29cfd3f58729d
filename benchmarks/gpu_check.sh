#!/usr/bin/env bash
# One prepared GPU check for a lent device machine (never part of the tests or CI).
# Installs the runtime with onnxruntime-gpu instead of onnxruntime, then checks that CUDA is
# really active, that CUDA vectors match CPU vectors, and the batch-256 throughput (fp32 model).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv /tmp/gpu-venv
/tmp/gpu-venv/bin/pip install -q -e . onnxruntime-gpu
/tmp/gpu-venv/bin/pip uninstall -q -y onnxruntime
/tmp/gpu-venv/bin/pip install -q --force-reinstall --no-deps onnxruntime-gpu
/tmp/gpu-venv/bin/ccl-embed info --device cuda
/tmp/gpu-venv/bin/python benchmarks/gpu_check.py
