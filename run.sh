#!/usr/bin/env bash
# The two quick-start commands: `bash run.sh demo` and `bash run.sh test` (and `bash run.sh docs`, the docs site).
# Both create (or reuse) ./.venv and install what they need, so they work on a fresh machine
# that has only Python 3.10+ and pip.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV="${CLAMR_VENV:-.venv}"
STAMP="$VENV/.clamr-installed"

LOCK=requirements.lock
PIP_VERSION=26.3
UV_VERSION=0.13.9

# install EXTRAS: the project with these extras (comma-separated) in $VENV, every dependency at the
# version requirements.lock pins (the lock is a pip constraints file, so any subset of extras installs
# exactly what CI tested). The stamp records the hash of pyproject + lock and the extras installed, so a
# later command re-installs only when the dependencies changed or it needs an extra that is not there yet.
install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    local need="$1" sha have="" extras
    sha=$(cat pyproject.toml "$LOCK" | sha256sum | cut -d' ' -f1)
    if [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$sha" ]; then
        have=$(sed -n 2p "$STAMP")
    fi
    extras=$(printf '%s\n' ${have//,/ } ${need//,/ } | sort -u | paste -sd, -)
    if [ -n "$have" ] && [ "$extras" = "$have" ]; then
        return
    fi
    # pip's and the build backend's chatter (setuptools' editable-install banner, notes about this
    # machine's package mirrors) goes to a log that is shown only when the install fails.
    local log="$VENV/install.log"
    echo "installing clamr-frames[$extras] into $VENV from $LOCK (log: $log) ..." >&2
    {
        "$VENV/bin/python" -m pip install --quiet "pip==$PIP_VERSION" &&
        # This torch pair first: transformers 5's Qwen2-VL image processor needs torchvision, and any
        # other torch spec would download several GB.
        "$VENV/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1 &&
        # eval = lmms-eval 0.7.3 (tests/harness/); it pins av<16, which the PyAV backend supports.
        "$VENV/bin/python" -m pip install --quiet -c "$LOCK" -e ".[$extras]"
    } > "$log" 2>&1 || {
        tail -n 40 "$log" >&2
        echo "install failed; the whole log is in $log" >&2
        exit 1
    }
    printf '%s\n%s\n' "$sha" "$extras" > "$STAMP"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    demo)
        install ocr,asr,synth
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
        exec "$VENV/bin/clamr-frames" demo "$@"
        ;;
    test)
        install ocr,dev,eval,asr,synth,distributed,ui,browser,docs
        # CLAMR_REQUIRE_EXTRAS: every extra was just installed, so a test whose extra is missing fails instead of
        # skipping (testkit/extras.py; CI=true does the same)
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 CLAMR_REQUIRE_EXTRAS=1
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    install)
        install "${1:-ocr,dev,eval,asr,synth,distributed}"
        ;;
    docs)
        # the documentation site (Sphinx 9 needs Python 3.11+): warnings are errors, as in CI. The API pages
        # import qa_harness, hence the eval extra. `bash run.sh docs serve [PORT]` then serves it on 127.0.0.1.
        install docs,eval
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            echo "the docs need Python 3.11 or newer (Sphinx 9); $VENV has $("$VENV/bin/python" -V)" >&2
            exit 2
        }
        export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
        "$VENV/bin/python" -m sphinx -W --keep-going -b html docs docs/_build/html
        if [ "${1:-}" = serve ]; then
            echo "serving docs/_build/html on http://127.0.0.1:${2:-8000}/ (Ctrl-C stops)" >&2
            exec "$VENV/bin/python" -m http.server --bind 127.0.0.1 -d docs/_build/html "${2:-8000}"
        fi
        ;;
    lock)
        # Regenerate requirements.lock from pyproject's ranges (all extras, Python 3.10+, every platform
        # marker) after changing a dependency; commit both files together.
        if [ ! -x "$VENV/bin/python" ]; then
            "$PY" -m venv "$VENV"
        fi
        "$VENV/bin/python" -m pip install --quiet "uv==$UV_VERSION"
        tc=$(mktemp)
        trap 'rm -f "$tc"' EXIT
        # the torch pair run.sh installs first (any other build is a multi-GB download)
        printf 'torch==2.14.1\ntorchvision==0.29.1\n' > "$tc"
        UV_PYTHON_DOWNLOADS=never "$VENV/bin/uv" pip compile pyproject.toml --all-extras --universal \
            --python-version 3.10 -c "$tc" --custom-compile-command "bash run.sh lock" \
            --quiet -o "$LOCK" "$@"
        # name the temporary constraints file by what it holds, so a regenerated lock differs only where pins do
        sed -i "s|-c $tc\$|-c torch pair (run.sh)|" "$LOCK"
        echo "wrote $LOCK ($(grep -c '==' "$LOCK") pins)"
        ;;
    *)
        echo "usage: bash run.sh {demo|test|docs [serve [PORT]]|install|lock} [args...]" >&2
        exit 2
        ;;
esac
