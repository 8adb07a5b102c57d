#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with d2l-gluon and its test
# dependencies installed.  Safe to run again: it reinstalls only when setup.cfg
# changed.  D2L_PYTORCH=1 adds the optional extra 'pytorch' (the notes' PyTorch
# code as a third version): a CPU build of torch, $D2L_TORCH (default
# torch==2.13.0), else the newest from PyTorch's CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.10 python3.9 python3.8 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 11)))'; then
            echo "$candidate"; return 0
        fi
    done
    echo "setup: d2l-gluon needs Python 3.8-3.11 (mxnet 1.9.1); install one or set PYTHON=/path/to/python" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python=$(pick_python)
    echo "setup: creating .venv with $python"
    "$python" -m venv .venv || {
        echo "setup: '$python -m venv' failed; on Debian install python3-venv (apt-get install python3-venv)" >&2
        exit 1
    }
fi

extras=test
if [ "${D2L_PYTORCH:-0}" = 1 ]; then
    extras=test,pytorch
    if ! .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
        # a CPU build first: the extra's range (torch>=2.0) is then met and pip adds nothing;
        # plain 'pip install torch' would fetch the multi-GB CUDA build on Linux.  The '+cpu'
        # build exists only as a local wheel (e.g. this project's CI machine) or on PyTorch's
        # CPU index, never on PyPI, so no CUDA build can be taken by mistake
        echo "setup: installing PyTorch (CPU) into .venv"
        .venv/bin/python -m pip install --quiet "${D2L_TORCH:-torch==2.13.0+cpu}" 2>/dev/null \
            || .venv/bin/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
    fi
fi

stamp=.venv/.d2l-gluon-installed
wanted=$( (cat setup.cfg pyproject.toml; echo "$extras") | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing d2l-gluon and its dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
    echo "$wanted" > "$stamp"
fi

# Fashion-MNIST: use a copy already on this machine, else Debian's package
# (when we are root and have apt-get), else download into the gluon cache.
if ! .venv/bin/d2l-gluon data --no-download >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian's dataset-fashion-mnist"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
            || echo "setup: apt-get could not install dataset-fashion-mnist; downloading instead" >&2
    fi
    .venv/bin/d2l-gluon data
fi
