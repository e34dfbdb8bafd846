"""Errors that reach the user as one line and a documented exit code.

Exit codes of the ``ocr`` command:

====  =====================================================================
 0    success
 1    unexpected internal error (a bug: please report it)
 2    usage error (bad option or argument)
 3    an input could not be read (missing, empty, corrupt, unsupported, too large, encrypted)
 4    an engine failed (not installed, crashed, timed out)
 5    an output could not be written (disk full, permission denied, read-only)
====  =====================================================================

With several inputs the exit code is the highest one met; the readable inputs are
still processed and written.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_ENGINE = 4
EXIT_OUTPUT = 5


class OcrError(Exception):
    """Base class: ``str(error)`` is the one-line message shown to the user."""

    exit_code = EXIT_INTERNAL


class UsageError(OcrError):
    """An option or argument has an invalid value."""

    exit_code = EXIT_USAGE


class InputError(OcrError):
    """An input cannot be read as page images."""

    exit_code = EXIT_INPUT


class InputTooLarge(InputError):
    """An input exceeds a size limit (pixels per page, pages per document)."""


class UnsupportedFormat(InputError):
    """An input is in no format the reader recognizes."""


class EngineError(OcrError):
    """An OCR engine is unavailable or failed on a page."""

    exit_code = EXIT_ENGINE


class EngineTimeout(EngineError):
    """An engine ran past its time limit and was stopped."""


class EngineUnavailable(EngineError):
    """An engine cannot read as asked on this machine (language data or credentials missing).

    ``public`` says the same without local details (paths), for answers to remote clients.
    """

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message

    def __reduce__(self) -> tuple[type[EngineUnavailable], tuple[str, str]]:
        return type(self), (str(self), self.public)


class OutputError(OcrError):
    """An output could not be written (disk full, permission denied, read-only file system)."""

    exit_code = EXIT_OUTPUT
