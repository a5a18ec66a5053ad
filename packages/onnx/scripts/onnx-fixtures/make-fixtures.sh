#!/usr/bin/env bash
# Regenerates the committed ONNX-native test fixtures (needs Python 3.11 and PyPI; tests do not).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ONNX_FIXTURES_VENV:-$here/.venv-onnx-fixtures}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
"$venv/bin/python" "$here/flight_delay.py" "$here/../../test/fixtures/onnx"
