# Sourced by the scripts: puts the emulator on PATH and keeps every run local.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$HOME/.cargo/bin:$PATH"
# moto plus the project's IAM SimulatePrincipalPolicy extension (tests/emulator/).
export CLOUDOPS_MOTO_SERVER="$ROOT/tests/emulator/moto_server"
# Never probe the EC2 instance metadata service from a developer machine or CI.
export AWS_EC2_METADATA_DISABLED=true
# The embedding model and ONNX Runtime that scripts/setup puts in .models (DESIGN.md § 5.2).
export CLOUDOPS_MODEL_DIR="$ROOT/.models/all-MiniLM-L6-v2"
export ORT_DYLIB_PATH="$ROOT/.models/onnxruntime/libonnxruntime.so.1.32.0"
