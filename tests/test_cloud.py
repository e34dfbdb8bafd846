"""Cloud Vision through the real client against a local fake ImageAnnotator gRPC server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("google.cloud.vision", reason="the cloud extra is not installed")

from fake_vision import FakeVision  # noqa: E402
from ocr.config import PipelineConfig  # noqa: E402
from ocr.document import Word, box_polygon  # noqa: E402
from ocr.engines.cloud import CloudEngine, CloudVision, build_mosaics, cloud_stage_reader  # noqa: E402
from ocr.errors import EngineError  # noqa: E402
from ocr.routing import Router, Stage  # noqa: E402

CONFIG = PipelineConfig(cloud_timeout=0.5, cloud_retries=2, cloud_language_hints=("en", "de"))


def _page() -> tuple[np.ndarray, list[Word]]:
    """A white page with three dark word boxes; the neural engine was unsure of two."""
    image = np.full((200, 400, 3), 255, np.uint8)
    boxes = [(20, 20, 120, 50), (200, 20, 330, 50), (20, 120, 160, 160)]
    for x0, y0, x1, y1 in boxes:
        image[y0 + 5:y1 - 5, x0 + 5:x1 - 5] = 0
    words = [Word(text, box_polygon(*box), conf, "neural")
             for text, box, conf in zip(["HOME", "R0vers", "3-l"], boxes, [0.99, 0.2, 0.1])]
    return image, words


def test_mosaic_of_low_confidence_regions_is_one_request_mapped_back() -> None:
    image, words = _page()
    with FakeVision(["Rovers", "3-1"]) as server:
        reader = CloudVision(CONFIG, channel=server.channel())
        routed, report = Router([Stage(reader, 0.5)]).route(image, words)
        assert server.calls == 1 and reader.requests == 1
        assert server.hints == [["en", "de"]]
    assert [w.text for w in routed] == ["HOME", "Rovers", "3-1"]
    assert [w.source for w in routed] == ["neural", "cloud", "cloud"]
    assert routed[1].alternatives[0].text == "R0vers"
    assert report.sent == {"cloud": 2}


def test_429_is_retried_with_backoff_and_counted() -> None:
    image, words = _page()
    with FakeVision(["Rovers", "3-1"], script=["429", "ok"]) as server:
        reader = CloudVision(CONFIG, channel=server.channel())
        readings = reader.read_regions(image, [w.polygon for w in words[1:]])
        assert server.calls == 2 and reader.requests == 2
    assert [r.text for r in readings if r] == ["Rovers", "3-1"]


def test_429_past_the_retries_fails_and_keeps_local_readings() -> None:
    image, words = _page()
    with FakeVision(["Rovers", "3-1"], script=["429"]) as server:
        routed, report = Router([Stage(CloudVision(CONFIG, channel=server.channel()), 0.5)]).route(image, words)
        assert server.calls == 3  # one try and two retries
    assert [w.text for w in routed] == ["HOME", "R0vers", "3-l"]
    assert "gave up after 3 attempts" in report.notices[0]


@pytest.mark.parametrize(("script", "message"), [
    ("slow", "no answer within 0.5 s"),
    ("denied", "access refused"),
    ("malformed", "malformed answer"),
    ("500", "request failed: internal error"),
    ("garbage", "request failed"),
])
def test_failures_are_one_line_engine_errors_and_never_lose_the_local_reading(script: str, message: str) -> None:
    image, words = _page()
    with FakeVision(["Rovers", "3-1"], script=[script]) as server:
        reader = CloudVision(CONFIG, channel=server.channel())
        with pytest.raises(EngineError, match=message):
            reader.read_regions(image, [w.polygon for w in words])
        assert server.calls == 1  # none of these is retried
        routed, report = Router([Stage(reader, 0.5)]).route(image, words)
    assert [w.text for w in routed] == ["HOME", "R0vers", "3-l"]
    assert message in report.notices[0]


def test_request_budget_stops_requests() -> None:
    image, words = _page()
    with FakeVision(["Rovers", "3-1"]) as server:
        reader = CloudVision(PipelineConfig(cloud_max_requests=1), channel=server.channel())
        reader.read_regions(image, [words[1].polygon])
        with pytest.raises(EngineError, match="request budget of 1 spent"):
            reader.read_regions(image, [words[2].polygon])
        assert server.calls == 1


def test_cloud_engine_reads_a_whole_page() -> None:
    image, _ = _page()
    with FakeVision(["HOME", "3-1"]) as server:
        page = CloudEngine(CONFIG, channel=server.channel()).read(image)
    assert [w.text for w in page.words] == ["HOME", "3-1"]
    assert all(w.source == "cloud" for w in page.words)


def test_mosaics_are_split_when_too_tall() -> None:
    crops = [np.zeros((900, 50, 3), np.uint8) for _ in range(6)]
    mosaics = build_mosaics(crops)
    assert len(mosaics) > 1
    assert sorted(slot.index for _, slots in mosaics for slot in slots) == list(range(6))


def test_without_credentials_the_step_is_skipped_without_a_notice(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    reader, notice = cloud_stage_reader(PipelineConfig())
    assert reader is None and notice is None  # nothing asked for the cloud: nothing to say


def test_bad_key_file_is_a_clear_error(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}", encoding="utf-8")
    with pytest.raises(EngineError, match="unusable credentials file"):
        CloudVision(PipelineConfig(cloud_key_file=str(key)))
