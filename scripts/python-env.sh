# Sourced by scripts/test (and run by tests/trace_interop.rs when it finds nothing set):
# makes LEGWORK_PYTHONPATH point at the Python SDK and OpenTelemetry (and cryptography, for
# tests/python/codec_check.py), installed from PyPI
# into .tools/python (ignored by git) when missing. `pip --target` plus PYTHONPATH, not a
# venv: python3-venv is not always installed, and the bench does the same (bench/.venv-py).
LEGWORK_PY_TEMPORALIO=1.35.0
LEGWORK_PY_OTEL_SDK=1.45.2
LEGWORK_PY_CRYPTOGRAPHY=48.0.0
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LEGWORK_PYTHONPATH="$repo_root/.tools/python"
# One marker per pinned set: bumping any version installs afresh.
legwork_py_marker="$LEGWORK_PYTHONPATH/.installed-temporalio-$LEGWORK_PY_TEMPORALIO-otel-$LEGWORK_PY_OTEL_SDK-cryptography-$LEGWORK_PY_CRYPTOGRAPHY"
if [ ! -e "$legwork_py_marker" ]; then
  echo "installing temporalio==$LEGWORK_PY_TEMPORALIO and opentelemetry-sdk==$LEGWORK_PY_OTEL_SDK into .tools/python" >&2
  rm -rf "$LEGWORK_PYTHONPATH"
  # As root (CI), pip warns about system packages; --target touches none. An environment
  # variable rather than --root-user-action, which older pips reject.
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$LEGWORK_PYTHONPATH" \
    "temporalio==$LEGWORK_PY_TEMPORALIO" "opentelemetry-sdk==$LEGWORK_PY_OTEL_SDK" "cryptography==$LEGWORK_PY_CRYPTOGRAPHY" >&2
  touch "$legwork_py_marker"
fi
unset legwork_py_marker
# External storage tests (tests/external_storage.rs): moto's S3 server, and the aioboto3
# client Python's S3 storage driver (temporalio.contrib.aws.s3driver) talks through. A
# directory of their own, so that these pins change without reinstalling the SDK.
LEGWORK_PY_MOTO=5.2.6
LEGWORK_PY_AIOBOTO3=15.5.0
legwork_py_s3="$repo_root/.tools/python-s3"
legwork_py_marker="$legwork_py_s3/.installed-moto-$LEGWORK_PY_MOTO-aioboto3-$LEGWORK_PY_AIOBOTO3"
if [ ! -e "$legwork_py_marker" ]; then
  echo "installing moto[server]==$LEGWORK_PY_MOTO and aioboto3==$LEGWORK_PY_AIOBOTO3 into .tools/python-s3" >&2
  rm -rf "$legwork_py_s3"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$legwork_py_s3" \
    "moto[server]==$LEGWORK_PY_MOTO" "aioboto3==$LEGWORK_PY_AIOBOTO3" "types-aioboto3[s3]==$LEGWORK_PY_AIOBOTO3" >&2
  touch "$legwork_py_marker"
fi
# The SDK's directory first, so that its pinned packages win where both hold one.
LEGWORK_PYTHONPATH="$LEGWORK_PYTHONPATH:$legwork_py_s3"
unset legwork_py_marker legwork_py_s3
export LEGWORK_PYTHONPATH
