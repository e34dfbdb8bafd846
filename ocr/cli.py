"""The ``ocr`` command line (click)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

import click
import numpy as np
from PIL import Image


def _say(message: str) -> None:
    """One line on stderr, whatever ``message`` holds."""
    click.echo(f"ocr: {' '.join(message.split())}", err=True)


class _SayHandler(logging.Handler):
    """Shows the library's log records as ``ocr: message`` lines on (the current) stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        _say(record.getMessage())


# The library logs under "ocr"; its handler is in place before the library is imported, which
# already logs (engine plugins that fail to load).
_LIBRARY_LOGGER = logging.getLogger("ocr")
_LIBRARY_LOGGER.addHandler(_SayHandler())
_LIBRARY_LOGGER.setLevel(logging.WARNING)
logger = logging.getLogger("ocr.cli")

from ocr import __version__
from ocr.config import (DEFAULT_DPI, DEFAULT_ENGINE, DEFAULT_MAX_PIXELS, MAX_STDIN_BYTES, MODES, ROTATES, PipelineConfig,
                        ScanOptions, load_settings)
from ocr.detection import DETECTOR_NAMES
from ocr.document import Page
from ocr.engines import create_engine, engine_class, engine_names, require_engine
from ocr.errors import EXIT_INTERNAL, EXIT_OK, EngineTimeout, OcrError, OutputError
from ocr.export import EXTENSIONS, FORMATS, draw_words, render, render_file
from ocr.io import read_bytes, read_stream
from ocr.pipeline import STDIN, PageCallback, read_document
from ocr.profile import profiling, stage
from ocr.training.detector_config import TrainConfig as DetectorRun
from .server.settings import ServiceSettings


EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  internal error (a bug: please report it)
  2  usage error (bad option or argument)
  3  an input could not be read (missing, not a regular file, empty, corrupt,
     unsupported format, over --max-pixels or --max-pages, encrypted or broken PDF)
  4  an engine failed (not installed, missing language data, crashed, timed out)
  5  an output could not be written (disk full, permission denied, read-only)
With several inputs the exit code is the highest one met."""

VIZ_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

mode_option = click.option("-m", "--mode", type=click.Choice(MODES), default="page", show_default=True,
                           help="page: find and read all text; line: each image is one line or word (no detection).")
dpi_option = click.option("--dpi", type=click.IntRange(min=1), default=None,
                          help=f"Resolution PDF pages are rendered at  [default: {DEFAULT_DPI}]")
max_pixels_option = click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
                                 help="Refuse any page with more pixels (also guards against decompression bombs).")
max_pages_option = click.option("--max-pages", type=click.IntRange(min=1), default=None,
                                help="Refuse PDFs and TIFFs with more pages.")
input_timeout_option = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                                    help="Give up on an input after this many seconds (it is reported as failed).")


rotate_option = click.option(
    "--rotate", type=click.Choice(ROTATES), default="auto", show_default=True,
    help="auto: find each page's rotation (0/90/180/270) and skew (up to 15 degrees) and undo them before reading "
         "(word boxes stay on the image as given); off: read pages as given.")


def _internal(exc: BaseException) -> str:
    return f"internal error: {type(exc).__name__}: {exc} (please report this bug)"


class OcrGroup(click.Group):
    """A group that turns any error escaping a command into one stderr line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`ocr scan ... | head`): stop quietly, and keep Python
            # from complaining when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(EXIT_INTERNAL) from None
        except OcrError as exc:
            _say(str(exc))
            raise SystemExit(exc.exit_code) from None
        except Exception as exc:  # a bug: still one line, never a traceback
            _say(_internal(exc))
            raise SystemExit(EXIT_INTERNAL) from None


@click.group(cls=OcrGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="ocr")
@click.option("-v", "--verbose", count=True, help="Say more on stderr: -v what is done, -vv details for debugging.")
@click.option("-q", "--quiet", is_flag=True, help="Say nothing on stderr but errors.")
def main(verbose: int, quiet: bool) -> None:
    """CPU-first OCR: read images and PDFs into text, JSON, hOCR, ALTO or TSV.

    \b
    Start with:
      ocr scan samples/clean_page.png          print the text of a page
      ocr scan page.pdf --format json          the words with boxes and confidences
      ocr engines                              which engines can run here
      ocr scan --help                          every option of scan
    """
    levels = {0: logging.WARNING, 1: logging.INFO}
    _LIBRARY_LOGGER.setLevel(logging.ERROR if quiet else levels.get(verbose, logging.DEBUG))


def _stems(inputs: Sequence[str]) -> list[str]:
    """A distinct short name per input (its file name without extension; ``stdin`` for ``-``)."""
    seen: dict[str, int] = {}
    stems = []
    for item in inputs:
        stem = "stdin" if item == STDIN else (Path(item).stem or "input")
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


FORMAT_OF_EXTENSION = {extension: fmt for fmt, extension in EXTENSIONS.items()} | {"jsonl": "json"}


def _output_and_format(output: str | None, fmt: str | None) -> tuple[Path | None, str]:
    """The ``--output`` path and the format: ``--format``, else that of the output file's extension, else
    text. An output ending in ``/`` names a folder, made if missing."""
    if output is None:
        return None, fmt or "text"
    path = Path(output)
    if output.endswith(("/", os.sep)):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot make folder {path}: {exc.strerror or exc}", param_hint="--output") from None
    if fmt is None and not path.is_dir():
        fmt = FORMAT_OF_EXTENSION.get(path.suffix.lower().lstrip("."))
    return path, fmt or "text"


def _check_destination(path: Path | None, option: str) -> None:
    if path is not None and not path.is_dir() and not path.parent.is_dir():
        raise click.BadParameter(f"folder {path.parent} does not exist", param_hint=option)


class _Sink:
    """Where rendered documents go: stdout, one file for all, or one file per input in a folder."""

    def __init__(self, output: Path | None, fmt: str) -> None:
        self.fmt = fmt
        self.folder = output if output is not None and output.is_dir() else None
        self.file = output if output is not None and self.folder is None else None
        self.stream: TextIO | None = None
        self.count = 0

    def write(self, rendered: str | bytes, stem: str) -> None:
        """Append one input's rendering (several text documents are separated by a form feed); a PDF's
        bytes are the whole file."""
        if isinstance(rendered, bytes):
            self._write_binary(rendered, stem)
            return
        if not rendered.endswith("\n"):
            rendered += "\n"
        if self.folder is not None:
            path = self.folder / f"{stem}.{EXTENSIONS[self.fmt]}"
            try:
                path.write_text(rendered, encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"--output: cannot write {path}: {exc.strerror or exc}") from None
            return
        if self.fmt == "text" and self.count:
            rendered = "\f" + rendered
        self.count += 1
        if self.file is None:
            click.echo(rendered, nl=False)
            return
        try:
            if self.stream is None:
                self.stream = self.file.open("w", encoding="utf-8")
            self.stream.write(rendered)
            self.stream.flush()
        except OSError as exc:
            raise OutputError(f"--output: cannot write {self.file}: {exc.strerror or exc}") from None

    def _write_binary(self, content: bytes, stem: str) -> None:
        path = self.folder / f"{stem}.{EXTENSIONS[self.fmt]}" if self.folder is not None else self.file
        if path is None:
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
            return
        try:
            path.write_bytes(content)
        except OSError as exc:
            raise OutputError(f"--output: cannot write {path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _viz_writer(viz: Path, stem: str, several_inputs: bool) -> PageCallback:
    """Saves each read page with its word outlines; see the ``--viz`` help for the names."""

    def write(image: np.ndarray, page: Page) -> None:
        page_part = "" if page.index == 0 else f"-p{page.index + 1}"
        if viz.is_dir():
            path = viz / f"{stem}{page_part}.png"
        else:
            input_part = f"-{stem}" if several_inputs else ""
            path = viz.with_name(f"{viz.stem}{input_part}{page_part}{viz.suffix}")
        try:
            Image.fromarray(draw_words(image, page)).save(path)
        except OSError as exc:
            raise OutputError(f"--viz: cannot write {path}: {exc.strerror or exc}") from None

    return write


def _settings_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of ``scan``, ``batch`` and ``serve`` that are also settings: unset, they come from the
    config file and ``OCR_*`` variables (see :func:`ocr.config.load_settings`), then the defaults."""
    options = [
        click.option("-e", "--engine", type=click.Choice(engine_names()), default=None,
                     help=f"OCR engine (`ocr engines` lists them)  [default: {DEFAULT_ENGINE}]"),
        click.option("-l", "--lang", default=None, help="Language(s) for the engine, e.g. eng or eng+deu  [default: eng]"),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                     help="Settings file (TOML or YAML: engine, lang, dpi, models, thresholds); default $OCR_CONFIG. "
                          "OCR_<SETTING> variables override it, and flags override those."),
        click.option("--detector", default=None, help=f"Detector: {', '.join(DETECTOR_NAMES)} (auto: the student, and "
                     f"its photograph-trained sibling for photographs)  [default: {PipelineConfig.detector}]."),
        click.option("--recognizer", default=None, help="Recognizer model name in weights/ or an .onnx path."),
        click.option("--threads", type=click.IntRange(min=0), default=None, help="onnxruntime threads (0: automatic)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format  [default: from the --output file's extension (.txt, .json, .jsonl, .hocr, .xml "
                   "for ALTO, .tsv, .pdf), else text]")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write to this file instead of standard output; a folder (an existing one, or a name ending in "
                   "/, made if missing) gets one file per input (NAME.txt, .json, .hocr, .xml for ALTO, .tsv, .pdf).")
@_settings_options
@mode_option
@dpi_option
@max_pixels_option
@max_pages_option
@input_timeout_option
@click.option("--viz", type=click.Path(path_type=Path), default=None,
              help="Save each page with its word outlines, colored by confidence (red 0 to green 1), to this image "
                   "file (.png, .jpg, .webp, .bmp, .tif) or existing folder. Page N > 1 of an input adds -pN to the "
                   "name; with several inputs, a file name gets -NAME of each input; a folder gets NAME.png.")
@click.option("--fallback-threshold", type=click.FloatRange(0, 1), default=None,
              help="hybrid: words read with less confidence are re-read by Tesseract.")
@click.option("--template", "template_file", type=click.Path(dir_okay=False), default=None,
              help="Read the fields named in this template (JSON or YAML) instead of all text: one JSON record "
                   "per image with each field's value, confidence and source (see samples/scoreboard.template.yaml).")
@click.option("--profile", is_flag=True,
              help="Print on stderr the time and counts of each stage (model loading, decoding, detector, line "
                   "crops, recognizer, word list, fallback, layout, export).")
@rotate_option
def scan(inputs: tuple[str, ...], fmt: str | None, output: str | None, engine: str | None, lang: str | None,
         config_file: str | None, detector: str | None, recognizer: str | None, threads: int | None, mode: str,
         dpi: int | None, max_pixels: int, max_pages: int | None, timeout: float | None, viz: Path | None,
         fallback_threshold: float | None, template_file: str | None, profile: bool, rotate: str) -> None:
    """Read images and PDFs and write their text.

    INPUT is a file path, or - for standard input. Every page of a PDF or multi-page
    TIFF is read; the format is recognized from the content (PNG, JPEG, TIFF, BMP,
    WebP, GIF, PDF). A bad input is reported on one line and the others are still read.

    \b
    Several inputs, in input order:
      json        JSON Lines: one ocr.document/1 document per line per input
      text        the texts one after another; a form feed starts every page
                  after the first, across inputs as within a PDF
      hocr, alto, tsv
                  complete files one after another: use --output FOLDER
                  for one file per input
      pdf         a searchable PDF per input (its pages or images under an
                  invisible text layer): --output FILE, or FOLDER for several

    \b
    Examples:
      ocr scan samples/clean_page.png
      ocr scan report.pdf --format json > report.json
      ocr scan *.png --format json --output pages.jsonl
      ocr scan book.tiff --format hocr --output out/
      cat photo.jpg | ocr scan - --viz boxes.png
      ocr scan word.png --mode line
      ocr scan scan.pdf --format pdf --output searchable.pdf
    """
    options = load_settings(config_file, {"engine": engine, "lang": lang, "dpi": dpi, "detector": detector,
                                          "recognizer": recognizer, "threads": threads,
                                          "fallback_threshold": fallback_threshold},
                            ).scan_options(mode=mode, max_pixels=max_pixels, max_pages=max_pages, rotate=rotate)
    if template_file is not None:
        given = click.get_current_context().get_parameter_source
        for flag, name in (("--viz", "viz"), ("--mode", "mode")):
            if given(name) is not click.core.ParameterSource.DEFAULT:
                raise click.UsageError(f"--template reads each field as a line and draws nothing: drop {flag}")
        if fmt not in (None, "json"):
            raise click.BadParameter("--template writes JSON records only", param_hint="--format")
    destination, fmt = _output_and_format(output, fmt)
    _check_destination(destination, "--output")
    several_to_one = len(inputs) > 1 and not (destination is not None and destination.is_dir())
    if fmt == "pdf" and (destination is None and sys.stdout.isatty() or several_to_one):
        raise click.BadParameter("a PDF goes to --output FILE (one input) or --output FOLDER (several)",
                                 param_hint="--format pdf")
    _check_destination(viz, "--viz")
    if template_file is not None:
        raise SystemExit(_scan_template(inputs, template_file, options, destination, engine))
    if viz is not None and not viz.is_dir() and viz.suffix.lower() not in VIZ_SUFFIXES:
        raise click.BadParameter(f"use a file name ending in {', '.join(VIZ_SUFFIXES)} or an existing folder",
                                 param_hint="--viz")
    started = time.perf_counter()
    with profiling() if profile else nullcontext() as recorded:
        worst = _scan_inputs(inputs, fmt, destination, viz, options, timeout)
    if recorded is not None:
        click.echo(recorded.table(time.perf_counter() - started), err=True)
    raise SystemExit(worst)


def _stdin_bytes() -> bytes:
    """Standard input, at most :data:`~ocr.config.MAX_STDIN_BYTES` of it."""
    return read_stream(sys.stdin.buffer, MAX_STDIN_BYTES, "<stdin>")


@contextmanager
def _time_limit(seconds: float | None, item: str) -> Iterator[None]:
    """Raise :class:`EngineTimeout` in the block once it has run ``seconds`` (main thread; no limit if None)."""
    if seconds is None:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise EngineTimeout(f"{item}: reading timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _scan_inputs(inputs: tuple[str, ...], fmt: str, output: Path | None, viz: Path | None, options: ScanOptions,
                 timeout: float | None = None) -> int:
    """Read every input with the engine of ``options`` and write the results; returns the worst exit code.

    ``timeout`` bounds the seconds spent reading one input."""
    with stage("load engine"):
        reader = create_engine(options.engine, options)
    sink = _Sink(output, fmt)
    worst = EXIT_OK
    try:
        for item, stem in zip(inputs, _stems(inputs)):
            on_page = _viz_writer(viz, stem, len(inputs) > 1) if viz is not None else None
            try:
                # a searchable PDF is drawn over the input's own bytes
                source: str | bytes = _stdin_bytes() if item == STDIN else read_bytes(item) if fmt == "pdf" else item
                with _time_limit(timeout, item):
                    document = read_document(source, options, reader, name=STDIN if item == STDIN else item,
                                             on_page=on_page)
            except OcrError as exc:
                _say(str(exc))
                worst = max(worst, exc.exit_code)
                continue
            except Exception as exc:  # a bug with this input: report it, read the others
                _say(f"{item}: {_internal(exc)}")
                worst = max(worst, EXIT_INTERNAL)
                continue
            with stage("export", len(document.pages)):
                sink.write(render_file(document, fmt, source, options.dpi) if fmt == "pdf" else render(document, fmt),
                           stem)
    finally:
        sink.close()
    summary = getattr(reader, "summary", None)
    if summary is not None:
        logger.info("%s", summary())
    return worst


def _scan_template(inputs: Sequence[str], template_file: str, options: ScanOptions, output: Path | None,
                   engine: str | None) -> int:
    """``ocr scan --template``: one JSON record per page of every input, read by the template's engines (only
    ``engine`` when -e is given); returns the exit code."""
    from dataclasses import replace

    from ocr.io import iter_pages
    from ocr.templates import TemplateReader, load_template, record_json

    template = load_template(template_file)
    reader = TemplateReader(template if engine is None else replace(template, engines=(engine,)), options)
    sink = _Sink(output, "json")
    worst = EXIT_OK
    try:
        for item, stem in zip(inputs, _stems(inputs)):
            try:
                source: str | bytes = _stdin_bytes() if item == STDIN else item
                pages = iter_pages(source, dpi=options.dpi, max_pixels=options.max_pixels, max_pages=options.max_pages,
                                   name="<stdin>" if item == STDIN else item)
                for index, image in enumerate(pages):
                    sink.write(record_json({**reader.read(image, item), "page": index}), stem)
            except OcrError as exc:
                _say(str(exc))
                worst = max(worst, exc.exit_code)
    finally:
        sink.close()
    return worst


@main.command()
def engines() -> None:
    """List the OCR engines and whether each can run here (and why not)."""
    default_engine = load_settings().engine
    width = max(len(name) for name in engine_names())
    for name in engine_names():
        cls = engine_class(name)
        reason = cls.availability()
        summary = (cls.__doc__ or "").strip().splitlines()[0] if reason is None else reason
        default = " (default)" if name == default_engine else ""
        status = "available" if reason is None else "unavailable"
        click.echo(f"{name:<{width}}  {status}{default}: {summary}")


def _format_list(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """``--format`` values, each possibly comma-separated, checked against the known formats."""
    formats = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise click.BadParameter(f"unknown format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    return formats


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (created if missing); it mirrors the inputs' folders.")
@click.option("-f", "--format", "formats", multiple=True, default=("json",), show_default=True, callback=_format_list,
              help=f"Output format(s), repeated or comma-separated: {', '.join(FORMATS)}.")
@click.option("--list", "list_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Also read the inputs named in this file, one per line (- for standard input).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (Ray actors with --ray), each loading the engine once  "
                   "[default: number of CPU cores (of the cluster)]")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Read on a Ray cluster: auto, HOST:PORT or ray://HOST:10001; alone, a local cluster for the job "
                   "(needs the ray extra).")
@click.option("--force", is_flag=True, help="Read every input again, also those already done.")
@input_timeout_option
@_settings_options
@mode_option
@dpi_option
@max_pixels_option
@max_pages_option
@rotate_option
def batch(inputs: tuple[str, ...], out: Path, formats: tuple[str, ...], list_file: TextIO | None, workers: int | None,
          ray_address: str | None, force: bool, timeout: float | None, engine: str | None, lang: str | None,
          config_file: str | None, detector: str | None, recognizer: str | None, threads: int | None, mode: str,
          dpi: int | None, max_pixels: int, max_pages: int | None, rotate: str) -> None:
    """Read many images and PDFs in parallel into a folder of outputs; rerun to resume.

    INPUT is a file, a folder (read recursively: PNG, JPEG, TIFF, BMP, WebP, GIF and
    PDF files by name) or a quoted glob pattern ('scans/**/*.tif'). Each input gets
    OUT/NAME.EXT per format, NAME being its path relative to the inputs' common folder
    (scans/a/b.png gives OUT/a/b.png.json). OUT/index.jsonl records every input read,
    OUT/errors.jsonl those that failed in the latest run, OUT/summary.json the counts.

    \b
    Rerunning skips every input already read with the same content and settings
    (--force reads them again); a job stopped at any moment, even killed, keeps what
    it finished and leaves no partial files. A bad input is reported and the job goes
    on; the exit code is then the highest one met. A progress bar is shown on a
    terminal.

    \b
    With --ray the inputs are read by Ray actors on the cluster's nodes, which get
    each input's bytes and send back its outputs; this process alone writes OUT.

    \b
    Examples:
      ocr batch scans/ --out results/
      ocr batch 'inbox/*.pdf' --out results/ --format text,json --workers 4
      ocr batch --list files.txt --out results/ --format hocr --force
      ocr batch scans/ --out results/ --ray auto
    """
    from ocr.batch import BatchSettings, Progress, collect_inputs, run_batch

    specs = list(inputs)
    if list_file is not None:
        specs += [line.strip() for line in list_file if line.strip() and not line.lstrip().startswith("#")]
    if not specs:
        raise click.UsageError("give at least one INPUT or --list")
    options = load_settings(config_file, {"engine": engine, "lang": lang, "dpi": dpi, "detector": detector,
                                          "recognizer": recognizer, "threads": threads},
                            ).scan_options(mode=mode, max_pixels=max_pixels, max_pages=max_pages, rotate=rotate)
    settings = BatchSettings(options, formats)
    found, failures = collect_inputs(specs, exclude=out)
    progress = Progress(sys.stderr, len(found)) if sys.stderr.isatty() and found else None
    summary = run_batch(found, out, settings, workers=workers, ray=ray_address, force=force,
                        timeout=timeout, failures=failures, progress=progress,
                        report=_say if progress is None else lambda text: progress.message(f"ocr: {text}"))
    rate = summary.pages / summary.seconds if summary.seconds else 0.0
    _say(f"batch: {summary.inputs} inputs: {summary.read} read ({summary.pages} pages, {rate:.2f} pages/s), "
         f"{summary.skipped} already done, {len(summary.failures)} failed in {summary.seconds:.1f} s; "
         f"index {out / 'index.jsonl'}" + (f", errors {out / 'errors.jsonl'}" if summary.failures else ""))
    raise SystemExit(summary.exit_code)


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes, i.e. requests read at once, each loading the engine once  "
                   "[default: number of CPU cores]")
@click.option("--max-queue", type=click.IntRange(min=0), default=ServiceSettings.max_queue, show_default=True,
              help="Requests that may wait for a worker; more get 503 with Retry-After.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=ServiceSettings.timeout,
              show_default=True, help="Seconds a request may take, waiting included (then 503 or 504).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True),
              default=ServiceSettings.max_upload_bytes / 2**20, show_default=True,
              help="Largest upload in MiB (larger: 413).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=ServiceSettings.max_pixels, show_default=True,
              help="Largest page in pixels (larger: 413).")
@click.option("--max-pages", type=click.IntRange(min=1), default=ServiceSettings.max_pages, show_default=True,
              help="Most pages in a PDF or TIFF (more: 413).")
@_settings_options
@rotate_option
@click.option("--engines", "offered", default="", metavar="NAME,...",
              help="Other engines requests may ask for, comma-separated (others: 422); each one asked for stays "
                   "loaded in the worker that read with it  [default: only --engine]")
def serve(host: str, port: int, workers: int | None, max_queue: int, timeout: float, max_upload_mb: float,
          max_pixels: int, max_pages: int, engine: str | None, lang: str | None, config_file: str | None,
          detector: str | None, recognizer: str | None, threads: int | None, rotate: str, offered: str) -> None:
    """Serve the HTTP API (POST /v1/ocr) and a page to try it at /.

    \b
    Routes: POST /v1/ocr (an image or PDF, raw or multipart; ?format=json|text|
    hocr|alto|tsv|pdf, &engine, &mode, &lang, &dpi, &rotate), GET /healthz, GET /readyz,
    GET /docs (OpenAPI), GET / (drop an image, see its words).

    \b
    Example:
      ocr serve --port 8000 --workers 2
      curl -s --data-binary @page.png -H 'Content-Type: image/png' \\
           'http://127.0.0.1:8000/v1/ocr?format=text'
    """
    from .server.app import serve as run_server

    chosen = load_settings(config_file, {"engine": engine, "lang": lang, "detector": detector, "recognizer": recognizer,
                                         "threads": threads})
    require_engine(chosen.engine)  # every worker loads it: without it no request could be answered
    others = tuple(name.strip() for name in offered.split(",") if name.strip())
    for name in others:
        try:
            require_engine(name)
        except OcrError as exc:
            raise click.BadParameter(str(exc), param_hint="--engines") from None
    settings = ServiceSettings(engine=chosen.engine, lang=chosen.lang, pipeline=chosen.pipeline, rotate=rotate,
                               workers=workers or len(os.sched_getaffinity(0)),
                               max_queue=max_queue, timeout=timeout, max_upload_bytes=round(max_upload_mb * 2**20),
                               max_pixels=max_pixels, max_pages=max_pages, engines=others)
    run_server(settings, host, port)


@main.command()
@click.option("--force", is_flag=True, help="Re-export models whose ONNX file already exists.")
def models(force: bool) -> None:
    """Export every pretrained model whose ONNX file is missing (needs the `train` extra)."""
    from ocr.errors import OcrError
    from ocr.models import ensure_models

    try:
        reports = ensure_models(force, on_start=lambda m: click.echo(f"{m.name}: exporting to {m.path} ..."))
    except OcrError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    for report in reports:
        size_mb = report.model.path.stat().st_size / 1e6
        if report.action == "exported":
            click.echo(f"{report.model.name}: exported {report.model.path} ({size_mb:.1f} MB, {report.seconds:.0f} s)")
        else:
            click.echo(f"{report.model.name}: present {report.model.path} ({size_mb:.1f} MB; --force to re-export)")


@main.command()
@click.argument("sets", nargs=-1, required=True, metavar="DATASET...")
@click.option("--engines", default="hybrid,neural,tesseract,easyocr,rapidocr", show_default=True,
              help="Comma-separated engines: this project's (`ocr engines`) and the peers easyocr, rapidocr.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N images of each set.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads of every engine (OpenMP, BLAS, onnxruntime intra-op, torch).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench-results"),
              show_default=True, help="Folder for results.md, results.json, accuracy_vs_speed.png and raw/.")
@click.option("--venvs", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the peers' virtual environments (benchmarks/setup_peers.sh)  "
                   "[default: $OCR_BENCH_VENVS or ~/.cache/ocr-bench/venvs]")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop an engine that takes longer than this many seconds on one set.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="(engine, set) runs at once, each in its own process (at most cores / threads).")
@click.option("--readme", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Also write the command, table, plot and a per-set summary between the "
                   "`<!-- ocr bench: begin -->` and `<!-- ocr bench: end -->` lines of this Markdown file.")
def bench(sets: tuple[str, ...], engines: str, limit: int | None, threads: int, out: Path, venvs: Path | None,
          timeout: float | None, jobs: int, readme: Path | None) -> None:
    """Compare OCR engines on DATASETs (folders with manifest.jsonl, or names of the shared eval sets;
    SET:N reads only the first N images of SET).

    Each engine reads every image in its own process with the same threads, models
    loaded once and a warm-up read untimed. Engines that are not installed are skipped
    with a notice. Writes OUT/results.md (also printed), OUT/results.json and
    OUT/accuracy_vs_speed.png.

    \b
    Example:
      ocr bench tesseract_testing funsd_test sroie_eval iiit5k_test icdar2015_test:100 --jobs 2
    """
    from ocr.bench.harness import run_bench
    from ocr.bench.report import README_BEGIN, README_END, has_readme_block, update_readme, write

    names = [name.strip() for name in engines.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one engine", param_hint="--engines")
    if readme is not None and not has_readme_block(readme):
        raise click.BadParameter(f"{readme} has no {README_BEGIN} ... {README_END} block", param_hint="--readme")
    report = run_bench(sets, names, threads=threads, limit=limit, venvs=venvs, out=out, timeout=timeout, jobs=jobs,
                       notify=_say)
    table = write(report, out, _say)
    click.echo(table, nl=False)
    if readme is not None:
        try:
            command = ["ocr", "bench", *sets, "--engines", ",".join(names), "--threads", str(threads), "--jobs", str(jobs),
                       *(["--limit", str(limit)] if limit else []), "--out", str(out), "--readme", str(readme)]
            update_readme(readme, report, table, out, " ".join(command))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None


@main.group(name="eval")
def eval_group() -> None:
    """Measure detectors and recognizers on evaluation sets."""


@eval_group.command(name="detect")
@click.argument("sets", nargs=-1, required=True)
@click.option("--detector", "detectors", multiple=True, default=("teacher",), show_default=True,
              help=f"Detector name ({', '.join(DETECTOR_NAMES)}); repeat to compare side by side.")
@click.option("--limit", type=int, default=None, help="Only the first N pages of each set.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write every number here.")
@click.option("--threads", type=int, default=0, show_default=True, help="onnxruntime intra-op threads (0: automatic).")
@click.option("--canvas-size", type=int, default=None, help="Override the detector's canvas size.")
@click.option("--max-canvas-size", type=int, default=None, help="Override how far large pages may grow the canvas.")
@click.option("--mag-ratio", type=float, default=None, help="Override the detector's magnification.")
@click.option("--text-height", type=float, default=None,
              help="Magnify a page no more than brings its characters to about this height (default: off).")
@click.option("--text-threshold", type=float, default=None)
@click.option("--link-threshold", type=float, default=None)
@click.option("--low-text", type=float, default=None)
def eval_detect(sets: tuple[str, ...], detectors: tuple[str, ...], limit: int | None, json_path: str | None,
                threads: int, **overrides: float | None) -> None:
    """Detection precision / recall / H-mean at IoU >= 0.5 and ms/page on SETS (names or folders)."""
    from ocr.errors import OcrError
    from ocr.eval.detection import run

    try:
        run(sets, detectors, limit, json_path, threads, overrides, echo=lambda m: click.echo(m, err=True))
    except OcrError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None


@eval_group.command(name="recognize")
@click.argument("sets", nargs=-1, required=True)
@click.option("--model", "models", multiple=True, default=("english_g2",), show_default=True,
              help="Recognizer name in weights/ or .onnx path, or rapidocr (PP-OCR's recognizer, bench extra); "
                   "repeat to compare side by side.")
@click.option("--level", type=click.Choice(["auto", "words", "lines"]), default="auto", show_default=True,
              help="Which boxes of page sets to cut (auto: lines when present).")
@click.option("--limit", type=int, default=None, help="Only the first N images of each set.")
@click.option("--margin", type=float, default=0.1, show_default=True, help="Widen page-set boxes by this fraction of their height.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write every number here.")
@click.option("--threads", type=int, default=0, show_default=True, help="onnxruntime intra-op threads (0: automatic).")
@click.option("--lexicon", default=None,
              help="Also read with this word list correcting near-miss words (name in weights/, e.g. lexicon_en, or path): "
                   "each model appears a second time as <model>+lexicon.")
def eval_recognize(sets: tuple[str, ...], models: tuple[str, ...], level: str, limit: int | None, margin: float,
                   json_path: str | None, threads: int, lexicon: str | None) -> None:
    """Recognition accuracy, CER, crops/s and confidence reliability on SETS (names or folders)."""
    from ocr.bench.adapters import PEERS, PeerCropReader
    from ocr.errors import OcrError
    from ocr.eval.recognition import run

    try:
        peers = {name: PeerCropReader(name, threads) for name in models if name in PEERS}
        run(sets, [m for m in models if m not in PEERS], level, limit, margin, json_path, threads,
            echo=lambda m: click.echo(m, err=True), lexicon=lexicon, peers=peers)
    except OcrError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None


def _pipeline_options(config_file: str | None, **flags: Any) -> ScanOptions:
    """ScanOptions whose pipeline settings are layered: defaults, config file, OCR_* variables, then ``flags``."""
    from ocr.config import load_pipeline_config

    return ScanOptions(pipeline=load_pipeline_config(config_file, overrides=flags))


@eval_group.command(name="pages")
@click.argument("sets", nargs=-1, required=True)
@click.option("--engines", "engine_list", default="hybrid,neural,tesseract", show_default=True,
              help="Comma-separated engines to compare.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N pages of each set.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write every number here.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Pipeline config file (TOML or YAML); default $OCR_CONFIG.")
@click.option("--fallback-threshold", type=float, default=None, help="Override the Tesseract fallback threshold.")
def eval_pages(sets: tuple[str, ...], engine_list: str, limit: int | None, json_path: str | None,
               config_file: str | None, fallback_threshold: float | None) -> None:
    """Whole-page accuracy of engines on SETS: bag-of-words F1, end-to-end word F1, CER, fallback rate, s/page."""
    from ocr.eval.pages import format_scores, run_pages

    options = _pipeline_options(config_file, fallback_threshold=fallback_threshold)
    engines_ = [e.strip() for e in engine_list.split(",") if e.strip()]
    for name in engines_:
        engine_class(name)
    scores = run_pages(sets, engines_, options, limit, json_path, progress=lambda m: click.echo(m, err=True))
    click.echo(format_scores(scores))


@eval_group.command(name="calibrate")
@click.argument("sets", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N pages of each set.")
@click.option("--thresholds", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.01", show_default=True,
              help="Comma-separated fallback thresholds to try.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Pipeline config file (TOML or YAML); default $OCR_CONFIG.")
def eval_calibrate(sets: tuple[str, ...], limit: int | None, thresholds: str, config_file: str | None) -> None:
    """Accuracy and fallback rate of the hybrid engine against its Tesseract threshold on SETS."""
    from ocr.eval.pages import calibrate, collect_readings, format_calibration

    try:
        values = [float(v) for v in thresholds.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"not a list of numbers: {thresholds!r}", param_hint="--thresholds") from None
    config = _pipeline_options(config_file).pipeline
    rows = []
    for name in sets:
        pages = collect_readings(name, config, limit, progress=lambda m: click.echo(m, err=True))
        rows.extend(calibrate(name, pages, values))
    click.echo(format_calibration(rows))


@main.group()
def train() -> None:
    """Train the detector and recognizer students."""


@train.command(name="recognizer")
@click.option("--config", "config_name", default=None,
              help="Preset: best, fast, fast_wide, medium, card, card_encoder or tiny (a --resume takes the run's own).")
@click.option("--init", default=None,
              help="Start from 'english_g2', a run directory / checkpoint, or an exported CTC model (.onnx).")
@click.option("--teacher", default=None, help="Relabel real crops with this model's case-exact readings.")
@click.option("--steps", type=int, default=None, help="Total optimizer steps (may be raised on --resume).")
@click.option("--lr", type=float, default=None, help="Peak learning rate [the preset's].")
@click.option("--minutes", type=float, default=None,
              help="Training-time budget: the schedule ends at whichever of it and --steps comes first.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory [/work/runs/recognizer_<config>].")
@click.option("--resume", is_flag=True, help="Continue from <out>/checkpoint.pt.")
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=int, default=None, help="Torch threads [1].")
@click.option("--lines", default=None, help="Page set with line boxes for real crops [sroie_train].")
@click.option("--pack", default=None, help="Real crops of every training set, from `ocr train pack` (its sets join --mix).")
@click.option("--mix", default=None, help="Source weights over the preset's, as NAME=WEIGHT,... (0 leaves a source out): "
                                          "synth_word, synth_line, synth_scene (scene text), sroie, and the pack's sets.")
@click.option("--fonts", default=None, help="Folder of fonts for synthetic text [the system's].")
@click.option("--grounds", default=None,
              help="Folder of photographs (`ocr train photos`) a fifth of the synthetic text is drawn on.")
@click.option("--device", default=None, help="Torch device: cpu, cuda, cuda:1 ... [cpu].")
@click.option("--workers", type=int, default=None, help="Data-loading processes [0: in the training process].")
@click.option("--columns", type=int, default=None, help="Padded columns per batch (batch size × width) [the preset's].")
@click.option("--cache", default=None, help="Cache folder for crops and the word list [/work/runs/cache].")
@click.option("--export-only", is_flag=True, help="Skip training: export to ONNX fp32 + int8 and write the manifest.")
@click.option("--weights", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Export the best-validation weights or the last checkpoint.")
@click.option("--static-int8", is_flag=True,
              help="The int8 export runs the convolutions in int8 too, calibrated on training crops (CTC models).")
def train_recognizer(config_name: str | None, init: str | None, teacher: str | None, steps: int | None, lr: float | None,
                     minutes: float | None, out: str | None, resume: bool, seed: int | None, threads: int | None, lines: str | None,
                     pack: str | None, mix: str | None, fonts: str | None, grounds: str | None, device: str | None,
                     workers: int | None, columns: int | None, cache: str | None, export_only: bool, weights: str,
                     static_int8: bool) -> None:
    """Train a recognizer (resumable), then export it to ONNX fp32 and int8 with a manifest."""
    from pathlib import Path

    from ocr.training.recognizer import command_line, export, mix_weights, preset, resume_config, train

    if not (config_name or resume and out):
        raise click.UsageError("give --config, or --resume with --out")
    run_dir = Path(out or f"/work/runs/recognizer_{config_name}")
    fixed = {"--config": config_name, "--init": init, "--lr": lr, "--seed": seed, "--lines": lines, "--cache": cache,
             "--pack": pack, "--mix": mix, "--fonts": fonts, "--grounds": grounds, "--columns": columns}
    ignored = [option for option, value in fixed.items() if resume and value is not None]
    if ignored:
        click.echo(f"warning: {', '.join(ignored)} ignored: a resumed run keeps its own", err=True)
    try:
        if resume:
            cfg = resume_config(run_dir, steps=steps, minutes=minutes, teacher=teacher, threads=threads, device=device,
                                workers=workers)
        else:
            cfg = preset(config_name, init=init, teacher=teacher, steps=steps, lr=lr, minutes=minutes, seed=seed, threads=threads,
                         lines=lines, cache=cache, pack=pack, fonts=fonts, grounds=grounds, device=device, workers=workers,
                         columns=columns, mix=mix_weights(config_name, mix))
        if not export_only:
            train(cfg, run_dir, resume=resume, command=command_line())
        export(run_dir, which="best" if weights == "best" else "checkpoint", threads=cfg.threads, static_int8=static_int8)
    except ValueError as exc:  # a bad preset value, or an --init model that does not fit the preset
        raise click.UsageError(str(exc)) from None
    except FileNotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(3) from None


@train.command(name="pack")
@click.option("--out", type=click.Path(dir_okay=False), default="/work/runs/pack/real.pkl", show_default=True)
@click.option("--set", "sets", multiple=True, help="Training set(s) to cut [all: funsd_train, docbank_samples, "
              "kleister_nda, iiit5k_train, svt_train, sroie_train].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the samples and the PDF resolutions.")
def train_pack(out: str, sets: tuple[str, ...], seed: int) -> None:
    """Cut the real training sets (under <data>/train) into one file of crops for `train recognizer --pack`."""
    from pathlib import Path

    from ocr.datasets import data_dir
    from ocr.training.packs import SETS, build_pack, save_pack

    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise click.BadParameter(f"unknown set {unknown[0]!r}: choose from {', '.join(SETS)}", param_hint="--set")
    chosen = {name: SETS[name] for name in sets} if sets else SETS
    pack = build_pack(data_dir() / "train", chosen, seed=seed, log=lambda m: click.echo(m, err=True))
    save_pack(pack, Path(out))
    click.echo(f"{sum(map(len, pack.train.values()))} training crops -> {out}")


@train.command(name="lexicon")
@click.option("--dictionary", type=click.Path(exists=True, dir_okay=False), default="/usr/share/dict/words",
              show_default=True, help="A word per line (Debian: apt-get install wamerican).")
@click.option("--words", type=click.Path(dir_okay=False), default=None,
              help="Corpus word counts, built from offline docs on first use [/work/runs/cache/words.tsv].")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output [weights/lexicon_en.tsv.gz].")
def train_lexicon(dictionary: str, words: str | None, out: str | None) -> None:
    """Build the English word list that corrects near-miss readings of CTC recognizers."""
    from ocr.models import weights_dir
    from ocr.recognition.lexicon import LEXICON
    from ocr.training.text import DEFAULT_WORDS, build_lexicon, cached_words

    target = out or str(weights_dir() / f"{LEXICON}.tsv.gz")
    click.echo(f"{build_lexicon(dictionary, cached_words(words or DEFAULT_WORDS), target)} words -> {target}")


@train.command(name="photos")
@click.option("--root", type=click.Path(exists=True, file_okay=False), default="/", show_default=True,
              help="Where the picture packages are installed or extracted (dpkg -x); see ocr.training.photos.")
@click.option("--out", type=click.Path(file_okay=False), default="/work/runs/photos", show_default=True)
def train_photos(root: str, out: str) -> None:
    """Collect photographs from Debian packages into photos_train and photos_val, for `train detector --set`."""
    from pathlib import Path

    from ocr.training.photos import build_photo_sets

    try:
        train_count, val_count = build_photo_sets(Path(root), Path(out))
    except FileNotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(3) from None
    click.echo(f"{train_count} training and {val_count} validation photographs -> {out}")


@train.command(name="detector")
@click.option("--steps", type=int, default=DetectorRun.steps, show_default=True, help="Total optimizer steps (cosine schedule length).")
@click.option("--minutes", type=float, default=None, help="Wall-time budget: the schedule ends at whichever comes first.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory [/work/runs/detector/student].")
@click.option("--resume", is_flag=True, help="Continue from <out>/last.pt.")
@click.option("--seed", type=int, default=DetectorRun.seed, show_default=True)
@click.option("--batch", type=int, default=DetectorRun.batch, show_default=True)
@click.option("--lr", type=float, default=DetectorRun.lr, show_default=True, help="Peak learning rate.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from the matching weights of this checkpoint or fp32 ONNX export (a fresh run only).")
@click.option("--crop", type=int, default=DetectorRun.crop, show_default=True, help="Training crop side in pixels (multiple of 32).")
@click.option("--threads", type=int, default=DetectorRun.threads, show_default=True, help="Torch and onnxruntime threads.")
@click.option("--set", "sets", multiple=True,
              help="Real page set(s) labelled by the teacher, each drawn as often as any other [sroie_train].")
@click.option("--boxes", "box_sets", multiple=True,
              help="Real page set(s) whose own word or line boxes are the targets (no teacher); with --no-cache-teacher "
                   "and no --set, the only real pages.")
@click.option("--synthetic-fraction", type=float, default=DetectorRun.synthetic_fraction, show_default=True,
              help="Share of synthetic pages.")
@click.option("--turn-fraction", type=float, default=DetectorRun.turn_fraction, show_default=True,
              help="Share of training crops turned a quarter either way (vertical text).")
@click.option("--freeze-bn", is_flag=True, help="Keep batch-norm statistics fixed (implied by --init from an ONNX file).")
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Teacher-map cache [/work/runs/detector].")
@click.option("--words", type=click.Path(dir_okay=False), default=None, help="Word list cache [/work/runs/cache/words.tsv].")
@click.option("--no-cache-teacher", is_flag=True, help="Use only the teacher maps already cached.")
@click.option("--export-only", is_flag=True, help="Skip training: export <out>/last.pt to ONNX fp32 + int8 with a manifest.")
@click.option("--no-export", is_flag=True, help="Train only.")
@click.option("--weights-dir", type=click.Path(file_okay=False), default=None, help="Where to export [weights/].")
@click.option("--name", default="craft_lite", show_default=True,
              help="File name stem of the export (craft_lite_photo: the photograph detector).")
@click.option("--metrics", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An `ocr eval detect --json` report to record in the manifest.")
def train_detector(steps: int, minutes: float | None, out: str | None, resume: bool, seed: int, batch: int, lr: float,
                   init: str | None, crop: int, threads: int, sets: tuple[str, ...], box_sets: tuple[str, ...],
                   synthetic_fraction: float, turn_fraction: float, freeze_bn: bool, cache: str | None, words: str | None,
                   no_cache_teacher: bool, export_only: bool, no_export: bool,
                   weights_dir: str | None, name: str, metrics: str | None) -> None:
    """Distil the CRAFT teacher into Lite-CRAFT (resumable), then export ONNX fp32 + int8 with a manifest."""
    from pathlib import Path

    from ocr.models import weights_dir as default_weights
    from ocr.datasets import resolve
    from ocr.training.detector_job import DEFAULT_CACHE, DEFAULT_RUN, DEFAULT_SETS, run
    from ocr.training.text import DEFAULT_WORDS

    if crop % 32:
        raise click.UsageError("--crop must be a multiple of 32")
    run_dir = Path(out) if out else DEFAULT_RUN
    target = Path(weights_dir) if weights_dir else default_weights()
    try:
        if not export_only:
            config = DetectorRun(steps=steps, minutes=minutes, batch=batch, lr=lr, crop=crop, seed=seed, init=init,
                                 threads=threads, box_sets=[str(resolve(s)) for s in box_sets],
                                 synthetic_fraction=synthetic_fraction, turn_fraction=turn_fraction,
                                 freeze_bn=freeze_bn or bool(init and init.endswith(".onnx")))
            run(config, run_dir, sets or (() if box_sets and no_cache_teacher else DEFAULT_SETS), Path(cache) if cache else DEFAULT_CACHE,
                default_weights() / "craft_mlt_25k.onnx", Path(words) if words else DEFAULT_WORDS, resume,
                cache_missing=not no_cache_teacher)
        if not no_export:
            from ocr.training.detector_export import export_student

            manifest = export_student(run_dir, target, threads=threads, metrics=Path(metrics) if metrics else None,
                                      name=name)
            click.echo(f"exported {manifest.parent}; manifest {manifest}")
    except (FileNotFoundError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(3) from None

if __name__ == "__main__":
    main()
