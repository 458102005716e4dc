#!/usr/bin/env bash
# The two quick-start commands: `bash run.sh demo` and `bash run.sh test`.
# Both create (or reuse) ./.venv and install what they need, so they work on a fresh machine
# that has only Python 3.10+ and pip.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV="${CLAMR_VENV:-.venv}"
STAMP="$VENV/.clamr-installed"

# install EXTRAS: the project with these extras (comma-separated) in $VENV. The stamp records the pyproject
# hash and the extras installed, so a later command re-installs only when the dependencies changed or it
# needs an extra that is not there yet.
install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    local need="$1" sha have="" extras
    sha=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$sha" ]; then
        have=$(sed -n 2p "$STAMP")
    fi
    extras=$(printf '%s\n' ${have//,/ } ${need//,/ } | sort -u | paste -sd, -)
    if [ -n "$have" ] && [ "$extras" = "$have" ]; then
        return
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # This torch pair first: transformers 5's Qwen2-VL image processor needs torchvision, and any
    # other torch spec would download several GB.
    "$VENV/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1
    # eval = lmms-eval 0.7.3 (tests/test_harness.py); it pins av<16, which the PyAV backend supports.
    "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
    printf '%s\n%s\n' "$sha" "$extras" > "$STAMP"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    demo)
        install ocr
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
        exec "$VENV/bin/clamr-frames" demo "$@"
        ;;
    test)
        install ocr,dev,eval
        # CLAMR_REQUIRE_EVAL: a missing lmms-eval fails the harness tests instead of skipping them
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 CLAMR_REQUIRE_EVAL=1
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    install)
        install "${1:-ocr,dev,eval}"
        ;;
    *)
        echo "usage: bash run.sh {demo|test|install} [args...]" >&2
        exit 2
        ;;
esac
