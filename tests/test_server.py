"""``ocr serve`` as a real process: correct answers in every format, every error status, concurrency, timeouts."""

from __future__ import annotations

import base64
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Iterator

import httpx
import psutil
import pytest
from lxml import etree
from PIL import Image, ImageStat
from hostile_inputs import many_fields, pdf_bomb, start_trickle
from service_process import Service, running_service
from text_images import CRASH, HANG, encoded, text_image

from ocr.config import ScanOptions
from ocr.document import Document
from ocr.engines.tesseract import TesseractEngine
from ocr.export import FORMATS, render, render_file
from ocr.pipeline import read_document

LIMITS = ("--max-upload-mb", "1", "--max-pixels", "4000000", "--max-pages", "3")
ENGINE = ("--engine", "tesseract", "--engines", "fault")  # cloud cannot be offered without credentials
"""The engine of requests that name none (fast, and what the expected answers are read with); the others offered."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Two workers, a queue long enough for 50 requests at once, a generous timeout."""
    with running_service(tmp_path_factory.mktemp("service"), "--workers", "2", "--max-queue", "64",
                         "--timeout", "300", *LIMITS, *ENGINE) as running:
        yield running


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Two workers, one request may wait, 6 s per request."""
    with running_service(tmp_path_factory.mktemp("strict"), "--workers", "2", "--max-queue", "1",
                         "--timeout", "6", *LIMITS, *ENGINE) as running:
        yield running


def post(service: Service, data: bytes, media: str = "image/png", timeout: float = 300, **params: str) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/ocr", content=data, headers={"Content-Type": media}, params=params,
                      timeout=timeout)


def pdf_of(*pages: Image.Image) -> bytes:
    buffer = BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def assert_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["error"] and fragment in body["detail"], body


def wait_for_requests(service: Service, count: int) -> None:
    """Until the service holds ``count`` requests (running or waiting)."""
    deadline = time.monotonic() + 120
    while httpx.get(f"{service.url}/readyz").json()["requests"] != count:
        assert time.monotonic() < deadline
        time.sleep(0.05)


# --- answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_equals_the_pipeline_output(service: Service, fmt: str) -> None:
    image = text_image("Quarterly report 2024")
    options = ScanOptions(engine="tesseract")
    document = read_document(encoded(image), options, TesseractEngine(), name="upload")
    response = post(service, encoded(image), format=fmt)
    assert response.status_code == 200, response.text
    if fmt == "pdf":  # the same bytes as the pipeline writes: a searchable PDF of the upload
        assert response.content == render_file(document, fmt, encoded(image), options.dpi)
        assert response.headers["content-type"] == "application/pdf"
        return
    assert response.text == render(document, fmt)
    assert response.headers["x-ocr-pages"] == "1"
    if fmt == "json":
        assert Document.from_dict(response.json()).text == "Quarterly report 2024"
    if fmt in ("hocr", "alto"):
        etree.fromstring(response.content)


def test_previews_show_each_page_as_read_and_export_renders_the_json_without_reading_again(service: Service) -> None:
    first, second = text_image("First page text"), text_image("Second page words")
    pdf = pdf_of(first, second)
    plain = post(service, pdf, "application/pdf", format="json", dpi="72").json()
    shown = post(service, pdf, "application/pdf", format="json", dpi="72", previews="true").json()
    images = [page.pop("image") for page in shown["pages"]]
    assert shown == plain  # the reading itself is the same
    for page, url, original in zip(shown["pages"], images, (first, second)):
        assert url.startswith("data:image/jpeg;base64,")
        preview = Image.open(BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert preview.size == (page["width"], page["height"]) == original.size  # 72 dpi: the page's own pixels
        # the preview is the page as read: dark where the original has ink
        assert abs(ImageStat.Stat(preview.convert("L")).mean[0] - ImageStat.Stat(original.convert("L")).mean[0]) < 3

    for fmt in ("text", "json", "hocr", "alto", "tsv"):
        exported = httpx.post(f"{service.url}/v1/export", params={"format": fmt}, json=plain, timeout=60)
        assert exported.status_code == 200, exported.text
        assert exported.text == post(service, pdf, "application/pdf", format=fmt, dpi="72").text
    assert exported.headers["content-type"].startswith("text/tab-separated-values")


def test_export_refuses_what_is_not_a_reading(service: Service) -> None:
    def export(body: bytes, media: str = "application/json", fmt: str = "text") -> httpx.Response:
        return httpx.post(f"{service.url}/v1/export", params={"format": fmt}, content=body,
                          headers={"Content-Type": media}, timeout=60)

    reading = post(service, encoded(text_image("Invoice 42")), format="json").content
    assert_error(export(reading, fmt="pdf"), 422, "format")
    assert_error(export(reading, media="text/plain"), 415, "application/json")
    assert_error(export(b"{not json"), 400, "not JSON")
    assert_error(export(b"[" * 100_000 + b"]" * 100_000), 400, "not JSON")
    assert_error(export(b'{"schema": "ocr.document/1"}'), 422, "not an ocr.document/1 document")
    assert_error(export(b'{"schema": "other/2", "pages": []}'), 422, "not an ocr.document/1 document")
    assert_error(export(b'"a string"'), 422, "JSON object")
    assert_error(export(b" " * 2_000_000), 413, "exceeds")
    assert_error(post(service, encoded(text_image("Invoice 42")), format="text", previews="true"), 422, "previews")


def test_multipart_pdf_of_two_pages(service: Service) -> None:
    pdf = pdf_of(text_image("First page text"), text_image("Second page text"))
    response = httpx.post(f"{service.url}/v1/ocr", files={"file": ("scan.pdf", pdf, "application/pdf")},
                          params={"format": "json", "dpi": "72"}, timeout=300)
    assert response.status_code == 200, response.text
    document = Document.from_dict(response.json())
    assert document.source == "scan.pdf"
    assert [page.text for page in document.pages] == ["First page text", "Second page text"]


def test_health_readiness_engines_docs_and_page(service: Service) -> None:
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{service.url}/readyz").json() == {"status": "ready", "workers": 2, "requests": 0}
    info = httpx.get(f"{service.url}/v1/engines").json()
    assert "tesseract" in info["engines"] and "hocr" in info["formats"]
    assert info["default"] == "tesseract"  # the service's --engine (ENGINE); without it: hybrid (test_cli.py)
    docs = httpx.get(f"{service.url}/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    assert httpx.get(f"{service.url}/docs-assets/swagger-ui-bundle.js").status_code == 200
    spec = httpx.get(f"{service.url}/openapi.json").json()
    body = spec["paths"]["/v1/ocr"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "image/png" in body
    page = httpx.get(f"{service.url}/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert httpx.get(f"{service.url}/static/app.js").status_code == 200


def test_fifty_concurrent_uploads_each_get_their_own_answer(service: Service) -> None:
    texts = [f"Request number {i} reads {i * 7}" for i in range(50)]
    uploads = [encoded(text_image(text)) for text in texts]
    with ThreadPoolExecutor(50) as clients:
        responses = list(clients.map(lambda data: post(service, data, format="text"), uploads))
    assert [r.status_code for r in responses] == [200] * 50
    assert [r.text for r in responses] == texts


# --- errors ------------------------------------------------------------------------------


def test_400_for_empty_or_malformed_uploads(service: Service) -> None:
    assert_error(post(service, b""), 400, "empty upload")
    no_file = httpx.post(f"{service.url}/v1/ocr", content=b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n",
                         headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(no_file, 400, "exactly one file part, found 0")
    assert_error(post(service, b"--b\r\ngarbage", media="multipart/form-data"), 400, "without a boundary")


def test_413_for_large_uploads_pages_and_documents(service: Service) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(1_200_000)
    assert_error(post(service, big), 413, "upload exceeds the limit")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is checked while reading
        for _ in range(20):
            yield bytes(100_000)

    streamed = httpx.post(f"{service.url}/v1/ocr", content=chunks(), headers={"Content-Type": "image/png"})
    assert_error(streamed, 413, "upload exceeds the limit")
    assert_error(post(service, encoded(Image.new("RGB", (2100, 2000), "white"))), 413, "exceeds the limit of 4,000,000 pixels")
    four_pages = pdf_of(*(text_image(f"Page {i}") for i in range(4)))
    assert_error(post(service, four_pages, media="application/pdf"), 413, "4 pages exceeds the limit of 3 pages")


def test_415_for_what_is_not_an_image_or_pdf(service: Service) -> None:
    assert_error(post(service, b"hello", media="text/plain"), 415, "unsupported content type 'text/plain'")
    assert_error(post(service, b"hello, not an image"), 415, "unsupported format")


def test_422_for_bad_parameters_and_corrupt_images(service: Service) -> None:
    data = encoded(text_image("Fine"))
    assert_error(post(service, data, format="docx"), 422, "format:")
    assert_error(post(service, data, engine="nope"), 422, "engine:")
    assert_error(post(service, data, dpi="5000"), 422, "dpi:")
    assert_error(post(service, data, lang="eng; rm -rf"), 422, "lang:")
    assert_error(post(service, data[: len(data) // 2]), 422, "upload")
    assert_error(httpx.get(f"{service.url}/nowhere"), 404, "Not Found")


def test_500_when_a_worker_crashes_and_the_service_recovers(service: Service) -> None:
    crash = post(service, encoded(text_image("Crash now", corner=CRASH)), engine="fault")
    assert_error(crash, 500, "worker process died (exit code 70)")
    for _ in range(3):  # the crashed worker was replaced
        assert post(service, encoded(text_image("Still here")), format="text").text == "Still here"


def test_a_slow_request_times_out_without_blocking_others(strict: Service) -> None:
    hung: dict[str, httpx.Response] = {}
    slow = threading.Thread(target=lambda: hung.update(r=post(strict, encoded(text_image("Hang", corner=HANG)),
                                                                engine="fault")))
    slow.start()
    wait_for_requests(strict, 1)
    for i in range(4):  # answered by the other worker while the first one hangs
        response = post(strict, encoded(text_image(f"Meanwhile {i}")), format="text")
        assert response.status_code == 200 and response.text == f"Meanwhile {i}"
    assert "r" not in hung
    slow.join()
    assert_error(hung["r"], 504, "timed out after")
    assert re.search(r"timed out after \d+(\.\d)? s", hung["r"].json()["detail"]), hung["r"].text  # no 3.99952 s
    assert post(strict, encoded(text_image("After the timeout")), format="text").text == "After the timeout"
    deadline = time.monotonic() + 120
    while httpx.get(f"{strict.url}/readyz").status_code != 200:  # the killed worker was replaced
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_503_with_retry_after_when_the_queue_is_full(strict: Service) -> None:
    hang = encoded(text_image("Hang", corner=HANG))
    with ThreadPoolExecutor(3) as clients:
        hung = [clients.submit(post, strict, hang, engine="fault") for _ in range(2)]
        wait_for_requests(strict, 2)
        queued = clients.submit(post, strict, encoded(text_image("Queued")), format="text")
        wait_for_requests(strict, 3)
        refused = post(strict, encoded(text_image("Refused")))
        assert_error(refused, 503, "too many requests waiting")
        assert int(refused.headers["retry-after"]) >= 1
        assert [f.result().status_code for f in hung] == [504, 504]
        assert queued.result().status_code in (503, 504)  # its deadline passed while both workers hung


def test_logs_hold_no_request_content_and_nothing_is_written_to_disk(service: Service) -> None:
    secret = "Confidential salary 98765"
    response = httpx.post(f"{service.url}/v1/ocr", files={"file": ("secret-name-4711.png", encoded(text_image(secret)))},
                          params={"format": "text", "lang": "eng"}, headers={"Authorization": "Bearer token-31337"},
                          timeout=300)
    assert response.text == secret
    assert_error(post(service, b"Confidential garbage"), 415, "unsupported")
    log = service.log_text()
    assert "POST /v1/ocr 200" in log
    for leak in ("Confidential", "98765", "secret-name", "token-31337", "format=text", "Traceback"):
        assert leak not in log
    # onnxruntime (which the orientation stage loads) writes its own id file .ses on import: no request content
    assert [path for path in service.tmp.iterdir() if path.name != ".ses"] == []


# --- hostile clients (issue 28) --------------------------------------------------------------


def worker_processes(service: Service) -> list[psutil.Process]:
    """The service's worker processes (not multiprocessing's resource tracker)."""
    return [child for child in psutil.Process(service.process.pid).children()
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline())]


def test_slow_uploads_hold_no_place_and_get_408(strict: Service) -> None:
    trickles = [start_trickle(strict.url) for _ in range(6)]  # more than workers + queue (3)
    try:
        time.sleep(0.5)  # their headers are in, their bodies never will be
        for i in range(3):
            response = post(strict, encoded(text_image(f"Not locked out {i}")), format="text")
            assert response.status_code == 200 and response.text == f"Not locked out {i}"
        assert httpx.get(f"{strict.url}/readyz").json()["requests"] == 0
        started = time.monotonic()
        for trickle in trickles:
            trickle.settimeout(30)
            answer = ""
            while not answer.endswith("}"):
                answer += trickle.recv(4096).decode()
            assert answer.startswith("HTTP/1.1 408"), answer
            assert "upload not received within 6 s" in answer
        assert time.monotonic() - started < 10
    finally:
        for trickle in trickles:
            trickle.close()


def wait_for_log(service: Service, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in service.log_text():
        assert time.monotonic() < deadline, f"{text!r} not in the log: {service.log_text()}"
        time.sleep(0.1)


def test_a_pdf_bomb_is_413_and_no_worker_grows_past_1_gb(service: Service) -> None:
    response = post(service, pdf_bomb(768), "application/pdf")
    assert_error(response, 413, "needs more than 512 MiB of memory to render")
    for worker in worker_processes(service):
        peak_kib = int(next(line.split()[1] for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines()
                            if line.startswith("VmHWM:")))
        assert peak_kib < 2**20, f"worker {worker.pid} peaked at {peak_kib >> 10} MiB"
    assert post(service, encoded(text_image("After the bomb")), format="text").text == "After the bomb"


@pytest.mark.parametrize("name", ["漢字.png", "é.png", "naïve résumé.png"])
def test_file_names_outside_latin_1_are_kept(service: Service, name: str) -> None:
    response = httpx.post(f"{service.url}/v1/ocr", files={"file": (name, encoded(text_image("Named")))}, timeout=300)
    assert response.status_code == 200, response.text
    assert Document.from_dict(response.json()).source == name


def test_a_form_of_many_fields_is_refused_without_stalling_the_service(service: Service) -> None:
    body, media = many_fields(18_000)  # 1 MiB: at the service's upload limit
    with ThreadPoolExecutor(1) as client:
        answer = client.submit(post, service, body, media)
        slowest = 0.0
        while not answer.done():
            started = time.monotonic()
            assert httpx.get(f"{service.url}/healthz", timeout=30).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        assert_error(answer.result(), 400, "more than 16 parts")
    assert slowest < 0.5


def test_a_worker_that_dies_idle_is_replaced_at_once(service: Service) -> None:
    victim = worker_processes(service)[0]
    victim.kill()
    victim.wait(10)
    deadline = time.monotonic() + 60
    while httpx.get(f"{service.url}/readyz").status_code != 200:  # the replacement loads its engine
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.1)
    assert victim.pid not in [worker.pid for worker in worker_processes(service)]
    for i in range(4):  # both workers answer: none of them is the dead one
        assert post(service, encoded(text_image(f"Alive {i}")), format="text").text == f"Alive {i}"


def test_client_mistakes_are_4xx_without_server_details(service: Service) -> None:
    page = encoded(text_image("Mistakes"))
    missing = post(service, page, lang="deu")
    assert_error(missing, 422, "no Tesseract data for language 'deu'")
    assert "/usr" not in missing.text and "tessdata" not in missing.text
    assert_error(post(service, page, engine="cloud"), 422, "engine: 'cloud' is not offered by this service")
    assert_error(post(service, page, engine="hybrid"), 422, "engine: 'hybrid' is not offered by this service")
    assert httpx.get(f"{service.url}/v1/engines").json()["engines"] == ["tesseract", "fault"]
    broken = post(service, b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert_error(broken, 422, "cannot decode PNG image")
    assert " at 0x" not in broken.text and "BytesIO" not in broken.text


def test_a_client_gone_mid_upload_is_a_400_in_the_log(service: Service) -> None:
    before = len(service.log_text())
    trickle = start_trickle(service.url, declared=5000)
    time.sleep(0.5)
    trickle.close()
    deadline = time.monotonic() + 30
    while "POST /v1/ocr" not in service.log_text()[before:]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    log = service.log_text()[before:]
    assert "POST /v1/ocr 400" in log and "ClientDisconnect" not in log and "error" not in log, log
