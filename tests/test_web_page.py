"""The try-it page at ``/``, end to end in headless Chromium (Debian's ``chromium`` and ``chromium-driver``)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sample_files import sample
from service_process import Service, running_service
from text_images import encoded, text_image

from ocr.export import EXTENSIONS, FORMATS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# A drop as the browser delivers it: a DataTransfer holding the file, dispatched on the drop zone.
DROP = """
const [name, type, data] = arguments;
const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], name, { type }));
const zone = document.getElementById("drop");
zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
"""

# The canvas color along the top edge of the first word's box, and that word.
EDGE_COLOR = """
const word = window.ocrResult.pages[0].blocks[0].lines[0].words[0];
const [[x0, y0], [x1]] = word.polygon;
const pixel = document.getElementById("canvas").getContext("2d").getImageData(Math.round((x0 + x1) / 2), Math.round(y0), 1, 1).data;
return [Array.from(pixel.slice(0, 3)), word.confidence, word.source];
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("web"), "--workers", "1", "--engine", "tesseract",
                         "--engines", "neural") as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    for program in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(program), f"{program} is missing: apt-get install chromium chromium-driver (setup.sh does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def confidence_rgb(confidence: float) -> list[int]:
    """As ``ocr.export.draw.confidence_color``."""
    c = min(max(confidence, 0.0), 1.0)
    return [255, round(510 * c), 0] if c < 0.5 else [round(510 * (1.0 - c)), 255, 0]


def drop(browser: webdriver.Chrome, name: str, media: str, data: bytes) -> None:
    browser.execute_script(DROP, name, media, base64.b64encode(data).decode())


def wait_state(browser: webdriver.Chrome, *states: str) -> str:
    WebDriverWait(browser, 300).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-state") in states)
    return browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def test_drop_an_image_see_its_text_and_boxes(service: Service, browser: webdriver.Chrome) -> None:
    browser.get(service.url + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes")
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#engine option")][0] == "tesseract"

    image = text_image("Shipping manifest 2231")
    drop(browser, "manifest.png", "image/png", encoded(image))
    assert wait_state(browser, "done", "error") == "done", browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "text").text == "Shipping manifest 2231"
    assert browser.find_element(By.ID, "status").text.startswith("3 words on 1 page")
    canvas = browser.find_element(By.ID, "canvas")
    assert (int(canvas.get_attribute("width")), int(canvas.get_attribute("height"))) == image.size

    color, confidence, source = browser.execute_script(EDGE_COLOR)
    assert source == "tesseract"
    assert all(abs(a - b) <= 2 for a, b in zip(color, confidence_rgb(confidence)))  # colored by confidence

    browser.find_element(By.CSS_SELECTOR, "input[value=engine]").click()
    color, _, _ = browser.execute_script(EDGE_COLOR)
    assert color == [0x1E, 0x88, 0xE5]  # colored by engine: the first engine's color
    assert browser.find_element(By.ID, "legend").text == "tesseract"


def test_the_page_shows_a_table_row_as_the_text_format_does(service: Service, browser: webdriver.Chrome) -> None:
    browser.get(service.url + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes")
    Select(browser.find_element(By.ID, "engine")).select_by_visible_text("neural")
    data = sample("receipt.png").read_bytes()
    drop(browser, "receipt.png", "image/png", data)
    assert wait_state(browser, "done", "error") == "done", browser.find_element(By.ID, "status").text
    served = httpx.post(f"{service.url}/v1/ocr?format=text&engine=neural", content=data,
                        headers={"Content-Type": "image/png"}, timeout=300)
    assert "Milk 1L 1.49" in served.text.splitlines()
    assert browser.find_element(By.ID, "text").text == served.text.strip()


def open_page(browser: webdriver.Chrome, service: Service) -> None:
    browser.get(service.url + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes")


def text_of(browser: webdriver.Chrome, element: str) -> str:
    return browser.find_element(By.ID, element).text


# Dark pixels of the canvas inside the bounding box of the current page's first word (the page image under it).
INK_UNDER_FIRST_WORD = """
const page = window.ocrResult.pages[arguments[0]];
const xs = [], ys = [];
for (const [x, y] of page.blocks[0].lines[0].words[0].polygon) { xs.push(x); ys.push(y); }
const [x0, y0] = [Math.min(...xs) + 3, Math.min(...ys) + 3];
const data = document.getElementById("canvas").getContext("2d")
  .getImageData(x0, y0, Math.max(...xs) - 3 - x0, Math.max(...ys) - 3 - y0).data;
let dark = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 200) dark++;
return dark;
"""


def test_a_pdf_shows_each_page_rendered_with_its_text_and_page_navigation(service: Service,
                                                                          browser: webdriver.Chrome) -> None:
    open_page(browser, service)
    data = sample("two_page.pdf").read_bytes()
    drop(browser, "two_page.pdf", "application/pdf", data)
    assert wait_state(browser, "done", "error") == "done", text_of(browser, "status")
    served = httpx.post(f"{service.url}/v1/ocr?format=text", content=data, headers={"Content-Type": "application/pdf"},
                        timeout=300).text.split("\n\f")
    reading = browser.execute_script("return window.ocrResult")
    assert " on 2 pages in " in text_of(browser, "status")
    canvas = browser.find_element(By.ID, "canvas")
    for index in (0, 1):
        assert text_of(browser, "page-label") == f"Page {index + 1} of 2"
        page = reading["pages"][index]
        assert (int(canvas.get_attribute("width")), int(canvas.get_attribute("height"))) == (page["width"], page["height"])
        assert browser.execute_script(INK_UNDER_FIRST_WORD, index) > 20  # the rendered page, not a blank one
        assert text_of(browser, "text") == served[index].strip()  # the server's text of this page
        assert browser.find_element(By.ID, "next").is_enabled() == (index == 0)
        browser.find_element(By.ID, "next").click()
    browser.find_element(By.ID, "previous").click()
    assert text_of(browser, "page-label") == "Page 1 of 2"


def test_the_reading_downloads_in_every_format(service: Service, browser: webdriver.Chrome,
                                               tmp_path: Path) -> None:
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    open_page(browser, service)
    image = encoded(text_image("Delivery note 7781"))
    drop(browser, "delivery.png", "image/png", image)
    assert wait_state(browser, "done", "error") == "done", text_of(browser, "status")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#downloads button")
    assert [b.text for b in buttons] == list(FORMATS)
    for button in buttons:
        button.click()
        assert wait_state(browser, "done", "error") == "done", text_of(browser, "status")
    names = {fmt: tmp_path / f"delivery.{EXTENSIONS[fmt]}" for fmt in FORMATS}
    WebDriverWait(browser, 60).until(lambda _: all(path.exists() for path in names.values()))
    for fmt, path in names.items():
        served = httpx.post(f"{service.url}/v1/ocr", params={"format": fmt}, content=image,
                            headers={"Content-Type": "image/png"}, timeout=300).content
        if fmt == "json":  # as shown: the service's JSON, the page previews left out
            assert json.loads(path.read_bytes()) == json.loads(served)
        else:
            assert path.read_bytes() == served, fmt


def test_a_phone_width_window_stacks_the_page_and_scrolls_only_down(service: Service,
                                                                     browser: webdriver.Chrome) -> None:
    browser.set_window_size(390, 844)
    try:
        open_page(browser, service)
        drop(browser, "receipt.png", "image/png", sample("receipt.png").read_bytes())
        assert wait_state(browser, "done", "error") == "done", text_of(browser, "status")
        width = browser.execute_script("return document.documentElement.clientWidth")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        controls = browser.find_element(By.ID, "controls").rect
        canvas = browser.find_element(By.ID, "canvas").rect
        text = browser.find_element(By.ID, "text").rect
        assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= width
        assert controls["y"] + controls["height"] <= canvas["y"] < canvas["y"] + canvas["height"] <= text["y"]
    finally:
        browser.set_window_size(1400, 1000)


def test_a_refused_upload_shows_the_reason(service: Service, browser: webdriver.Chrome) -> None:
    browser.get(service.url + "/")
    drop(browser, "notes.txt", "text/plain", b"just text")
    assert wait_state(browser, "done", "error") == "error"
    assert browser.find_element(By.ID, "status").text.startswith("415 Unsupported Media Type: unsupported content type")
