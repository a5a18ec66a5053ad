#!/usr/bin/env bash
# Installs the model servers that @rxml/remote's tests, examples/iris-remote and the remote bench
# suite run against, and builds the model they serve. Idempotent and quick when nothing changed.
#
#   .venv-models/mlserver   Seldon MLServer + mlserver-sklearn (Open Inference Protocol, REST + gRPC)
#   .venv-models/kserve     KServe's Python model server (v1 TF-Serving-style :predict, v2 REST)
#   .venv-models/models     settings.json, iris/model.joblib + model-settings.json, expected.json
#
# Versions are pinned in scripts/model-servers/requirements-*.txt; a venv is rebuilt when its file
# changes. Needs Python >= 3.9 with venv and pip, and PyPI. Takes ~2 min on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venvs="$root/.venv-models"
here="$root/scripts/model-servers"
python="${PYTHON:-python3}"
mkdir -p "$venvs"

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

setup_venv() {
  local name="$1" requirements="$2" dir="$venvs/$1"
  local want; want="$(hash_of "$requirements")"
  if [ -f "$dir/.rxml-stamp" ] && [ "$(cat "$dir/.rxml-stamp")" = "$want" ]; then return 0; fi
  echo "setup-model-servers: installing $name into $dir"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --disable-pip-version-check --no-input -q -r "$requirements"
  echo "$want" > "$dir/.rxml-stamp"
}

start=$(date +%s)
setup_venv mlserver "$here/requirements-mlserver.txt" &
mls=$!
setup_venv kserve "$here/requirements-kserve.txt" &
ks=$!
wait "$mls"
wait "$ks"

# The served model: rebuilt when the script, the embedded weights or the requirements change.
models="$venvs/models"
want="$(hash_of "$here/make_iris_model.py" "$root/packages/core/models/iris/model.json" "$root/packages/core/models/iris/weights.bin" "$here/requirements-mlserver.txt")"
if ! [ -f "$models/.rxml-stamp" ] || [ "$(cat "$models/.rxml-stamp")" != "$want" ]; then
  rm -rf "$models"
  "$venvs/mlserver/bin/python" "$here/make_iris_model.py" "$models" "$root"
  echo "$want" > "$models/.rxml-stamp"
fi
echo "setup-model-servers: ready in $(( $(date +%s) - start )) s ($venvs)"
