#!/usr/bin/env bash
# End-to-end run of the Lambda function against moto and a store; see e2e.py.
#   tests/e2e/run.sh                                  # SQLite store (local feature)
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test tests/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v moto_server >/dev/null || { echo "e2e: moto_server missing (pip install 'moto[server]')" >&2; exit 1; }
command -v cargo-lambda >/dev/null || { echo "e2e: cargo-lambda missing (pip install cargo-lambda)" >&2; exit 1; }
exec python3 tests/e2e/e2e.py "$@"
