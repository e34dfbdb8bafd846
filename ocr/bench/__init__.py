"""``ocr bench``: this project's engines and peer OCR tools side by side on the same images.

Each engine runs in its own process (:mod:`ocr.bench.runner`), in the project's
environment or, for peers whose pins clash with ours, in a virtual environment of its
own (``benchmarks/setup_peers.sh``). This package imports nothing heavy at the top, so
the runner also starts in a peer's environment that lacks the project's dependencies.
"""
