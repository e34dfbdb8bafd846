"""The HTTP service: ``POST /v1/ocr`` reads an uploaded image or PDF in a pool of worker processes.

Requests run in a bounded pool of worker processes (:class:`ocr.workers.WorkerPool`),
each holding its engine loaded once, so a slow page never blocks the others and a
request past its deadline is really stopped (its worker is killed and replaced).
Requests beyond the pool wait in a queue of bounded length; past it they get 503 with
``Retry-After``. A request enters the queue only once its body is in, which must happen
within the request's timeout (else 408), so clients that send slowly hold no place. Uploads are kept in memory only; the log has one line per request
(method, path, status, seconds), never its content, query string or headers.

Routes: ``POST /v1/ocr``, ``POST /v1/export`` (a JSON reading in another format, nothing
read again), ``GET /v1/engines``, ``GET /healthz`` (the process answers),
``GET /readyz`` (every worker has its engine loaded), ``GET /docs`` (OpenAPI, served
without any CDN), ``GET /`` (a page to try it: drop an image, see the words found).
Errors are JSON ``{"status": N, "error": "reason phrase", "detail": "one line"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ocr import __version__
from ocr.config import DEFAULT_DPI, Mode, Rotate
from ocr.engines import availability, engine_names
from ocr.errors import (EngineTimeout, EngineUnavailable, InputError, InputTooLarge, OcrError, UnsupportedFormat,
                        UsageError)
from ocr.document import SCHEMA_ID, Document
from ocr.export import EXTENSIONS, FORMATS, MEDIA_TYPES, render
from ocr.workers import WorkerPool, read_task

from .settings import ServiceSettings
from .uploads import RAW_TYPES, Upload, UploadProblem, check_length, read_limited, read_upload

STATIC = Path(__file__).resolve().parent / "static"
OutputFormat = Literal[FORMATS]  # type: ignore[valid-type]
TextFormat = Literal[tuple(f for f in FORMATS if f != "pdf")]  # type: ignore[valid-type]
EngineName = Literal[engine_names()]  # type: ignore[valid-type]
LOG = logging.getLogger("ocr.server")


class ApiError(Exception):
    """A request refused with ``status``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON body every error has."""
    body = {"status": status, "error": HTTPStatus(status).phrase, "detail": " ".join(detail.split())}
    return JSONResponse(body, status_code=status, headers=headers)


def _detail_of(exc: OcrError) -> str:
    """What a client is told of ``exc`` (never this machine's paths)."""
    return exc.public if isinstance(exc, EngineUnavailable) else str(exc)


def _status_of(exc: OcrError) -> int:
    if isinstance(exc, InputTooLarge):
        return 413
    if isinstance(exc, UnsupportedFormat):
        return 415
    if isinstance(exc, (InputError, UsageError, EngineUnavailable)):
        return 422
    if isinstance(exc, EngineTimeout):
        return 504
    return 500


class _Admission:
    """Who may run now: at most ``workers`` at once, ``max_queue`` more waiting, the rest refused."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.slots = asyncio.Semaphore(settings.workers)
        self.inside = 0
        self.seconds_per_request = 1.0  # moving average, for Retry-After

    def retry_after(self) -> dict[str, str]:
        waiting = max(self.inside - self.settings.workers, 0) + 1
        seconds = self.seconds_per_request * waiting / self.settings.workers
        return {"Retry-After": str(min(max(math.ceil(seconds), 1), 600))}

    def enter(self) -> None:
        if self.inside >= self.settings.workers + self.settings.max_queue:
            raise ApiError(503, "server busy: too many requests waiting, retry later", self.retry_after())
        self.inside += 1

    def leave(self) -> None:
        self.inside -= 1

    def record(self, seconds: float) -> None:
        self.seconds_per_request = 0.8 * self.seconds_per_request + 0.2 * seconds


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service's ASGI application; its worker pool starts and stops with the application."""
    settings = settings or ServiceSettings()
    runtime: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(settings.workers, settings.options())
        runtime.update(pool=pool, admission=_Admission(settings), threads=ThreadPoolExecutor(settings.workers))
        try:
            yield
        finally:
            runtime["threads"].shutdown(wait=False, cancel_futures=True)
            pool.close()

    app = FastAPI(
        title="ocr",
        version=__version__,
        summary="CPU-first OCR of images and PDFs",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )

    @app.middleware("http")
    async def access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # its message may quote the request: only the type is logged
            LOG.error("internal error: %s", type(exc).__name__)
            response = error_response(500, "internal error")
        LOG.info("%s %s %d %.3fs", request.method, request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.detail, exc.headers)

    @app.exception_handler(UploadProblem)
    async def upload_problem(request: Request, exc: UploadProblem) -> JSONResponse:
        return error_response(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
        return error_response(422, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    upload_doc = {
        "requestBody": {
            "required": True,
            "description": "The image or PDF: a raw body with its media type, or a multipart form with one file.",
            "content": {
                **{media: {"schema": {"type": "string", "format": "binary"}} for media in sorted(RAW_TYPES)},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                               "required": ["file"]},
                },
            },
        },
    }
    error_doc = {code: {"description": HTTPStatus(code).phrase} for code in (400, 408, 413, 415, 422, 500, 503, 504)}

    @app.post("/v1/ocr", openapi_extra=upload_doc, responses=error_doc,  # type: ignore[arg-type]
              response_class=Response, summary="Read an image or PDF")
    async def ocr(
        request: Request,
        fmt: OutputFormat = Query("json", alias="format", description="Output format."),
        engine: EngineName = Query(settings.engine, description="OCR engine."),
        mode: Mode = Query("page", description="page: find all text; line: the image is one line or word."),
        lang: str = Query(settings.lang, pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$", max_length=64,
                          description="Language(s) for the engine, e.g. eng or eng+deu."),
        dpi: int = Query(DEFAULT_DPI, ge=36, le=settings.max_dpi, description="Resolution PDF pages are rendered at."),
        rotate: Rotate = Query(settings.rotate, description="auto: find and undo each page's rotation and skew; "
                                                            "off: read pages as given."),
        previews: bool = Query(False, description="format=json only: each page also carries `image`, the page as "
                                                  "read (a JPEG data: URL), for viewers such as the page at /."),
    ) -> Response:
        """Read every page of the upload; the ``ocr.document/1`` JSON, or text, hOCR, ALTO, TSV or a searchable PDF."""
        admission: _Admission = runtime["admission"]
        deadline = time.monotonic() + settings.timeout
        check_length(request.headers.get("content-length"), settings.max_upload_bytes)
        if previews and fmt != "json":
            raise ApiError(422, f"previews: page previews come only with format=json, not {fmt}")
        if engine not in settings.engines:
            raise ApiError(422, f"engine: '{engine}' is not offered by this service (offered: "
                                f"{', '.join(settings.engines)})")
        upload = await _receive(request, settings, deadline)
        admission.enter()  # only once the body is in: a slow sender holds no place in the queue
        try:
            try:
                options = settings.options(engine=engine, mode=mode, lang=lang, dpi=dpi, rotate=rotate)
            except UsageError as exc:
                raise ApiError(422, str(exc)) from None
            try:
                await asyncio.wait_for(admission.slots.acquire(), max(deadline - time.monotonic(), 0.0))
            except asyncio.TimeoutError:
                raise ApiError(503, "server busy: no worker became free in time, retry later",
                               admission.retry_after()) from None
            started = time.monotonic()
            try:
                work = partial(runtime["pool"].run, read_task, upload.data, upload.name, options, fmt, previews,
                               timeout=max(deadline - started, 0.001))
                pages, text = await asyncio.get_running_loop().run_in_executor(runtime["threads"], work)
            except OcrError as exc:
                raise ApiError(_status_of(exc), _detail_of(exc)) from None
            finally:
                admission.slots.release()
                admission.record(time.monotonic() - started)
        finally:
            admission.leave()
        return Response(text, media_type=MEDIA_TYPES[fmt], headers={"X-OCR-Pages": str(pages)})

    @app.post("/v1/export", responses=error_doc, response_class=Response,  # type: ignore[arg-type]
              summary="Turn a JSON reading into another format",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"type": "object", "description": "An ocr.document/1 document, as POST /v1/ocr gives it."}}}}})
    async def export(
        request: Request,
        fmt: TextFormat = Query(..., alias="format", description="Output format (pdf needs the input: POST it to "
                                                                  "/v1/ocr?format=pdf)."),
    ) -> Response:
        """The ``ocr.document/1`` JSON of the body (as ``POST /v1/ocr`` returns it) as text, JSON, hOCR, ALTO or
        TSV, without reading anything again."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, "the body must be an ocr.document/1 document sent as application/json")
        check_length(request.headers.get("content-length"), settings.max_upload_bytes)
        try:
            body = await asyncio.wait_for(read_limited(request.stream(), settings.max_upload_bytes), settings.timeout)
        except asyncio.TimeoutError:
            raise ApiError(408, f"body not received within {settings.timeout:g} s") from None
        except ClientDisconnect:
            raise ApiError(400, "the client closed the connection before the body was complete") from None
        work = partial(_export, body, fmt)
        return Response(await asyncio.get_running_loop().run_in_executor(runtime["threads"], work),
                        media_type=MEDIA_TYPES[fmt])

    @app.get("/v1/engines", summary="The engines this service can use")
    async def engines() -> dict[str, Any]:
        usable = [name for name in settings.engines if availability(name) is None]
        return {"engines": usable, "default": settings.engine, "formats": list(FORMATS), "extensions": EXTENSIONS}

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: every worker has its engine loaded; requests in progress or waiting",
             responses={503: {"description": "starting"}})
    async def readyz() -> JSONResponse:
        body = {"workers": settings.workers, "requests": runtime["admission"].inside}
        if runtime["pool"].ready():
            return JSONResponse({"status": "ready", **body})
        return JSONResponse({"status": "starting", **body}, status_code=503)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="ocr API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=_swagger_assets()), name="docs-assets")
    return app


async def _receive(request: Request, settings: ServiceSettings, deadline: float) -> Upload:
    """The request's upload, read before ``deadline`` (else 408); a client gone meanwhile is a 400."""
    try:
        return await asyncio.wait_for(
            read_upload(request.headers.get("content-type"), request.stream(), settings.max_upload_bytes),
            max(deadline - time.monotonic(), 0.0))
    except asyncio.TimeoutError:
        raise ApiError(408, f"upload not received within {settings.timeout:g} s") from None
    except ClientDisconnect:
        raise ApiError(400, "the client closed the connection before the upload was complete") from None


def _export(body: bytes, fmt: str) -> str:
    """The document JSON ``body`` rendered in ``fmt``; :class:`ApiError` 400 or 422 when it is none."""
    try:
        tree = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not JSON") from None
    if not isinstance(tree, dict):
        raise ApiError(422, f"the body is not an {SCHEMA_ID} document (a JSON object)")
    try:
        return render(Document.from_dict(tree), fmt)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        reason = f"{type(exc).__name__}: {exc}"  # echoes a part of the body: kept short
        raise ApiError(422, f"the body is not an {SCHEMA_ID} document ({reason[:120]})") from None


def _swagger_assets() -> Path:
    """The Swagger UI files shipped by the ``swagger-ui-bundle`` package (no CDN at run time)."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the service's request log added (uvicorn's access log is off)."""
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["loggers"]["ocr.server"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(settings: ServiceSettings, host: str, port: int) -> None:
    """Run the service on ``host``:``port`` until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=log_config(),
                timeout_graceful_shutdown=5)
