#!/usr/bin/env bash
# The two quick-start commands: `bash run.sh demo` and `bash run.sh test`.
# Both create (or reuse) ./.venv and install what they need, so they work on a fresh machine
# that has only Python 3.10+ and pip.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV="${CLAMR_VENV:-.venv}"
STAMP="$VENV/.clamr-installed"

install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    # Re-install only when the project's declared dependencies changed.
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # This torch pair first: transformers 5's Qwen2-VL image processor needs torchvision, and any
    # other torch spec would download several GB.
    "$VENV/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1
    "$VENV/bin/python" -m pip install --quiet -e ".[ocr,dev]"
    echo "$want" > "$STAMP"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    demo)
        install
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
        exec "$VENV/bin/clamr-frames" demo "$@"
        ;;
    test)
        install
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    install)
        install
        ;;
    *)
        echo "usage: bash run.sh {demo|test|install} [args...]" >&2
        exit 2
        ;;
esac
