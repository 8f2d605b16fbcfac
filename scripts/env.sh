# Sourced by the scripts: puts the emulator on PATH and keeps every run local.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$HOME/.cargo/bin:$PATH"
# moto plus the project's IAM SimulatePrincipalPolicy extension (tests/emulator/).
export CLOUDOPS_MOTO_SERVER="$ROOT/tests/emulator/moto_server"
# Never probe the EC2 instance metadata service from a developer machine or CI.
export AWS_EC2_METADATA_DISABLED=true
