"""The try-it page at ``/``, end to end in headless Chromium (Debian's ``chromium`` and ``chromium-driver``)."""

from __future__ import annotations

import base64
import shutil
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


def test_a_refused_upload_shows_the_reason(service: Service, browser: webdriver.Chrome) -> None:
    browser.get(service.url + "/")
    drop(browser, "notes.txt", "text/plain", b"just text")
    assert wait_state(browser, "done", "error") == "error"
    assert browser.find_element(By.ID, "status").text.startswith("415 Unsupported Media Type: unsupported content type")
