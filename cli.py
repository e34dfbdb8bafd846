"""The ``ocr`` command line (click)."""

from __future__ import annotations

import click

from ocr import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ocr")
def main() -> None:
    """CPU-first OCR: read images and PDFs into text, JSON, hOCR, ALTO or TSV."""


@main.group(name="eval")
def eval_group() -> None:
    """Measure detectors and recognizers on evaluation sets."""


@main.group()
def train() -> None:
    """Train the detector and recognizer students."""


if __name__ == "__main__":
    main()
