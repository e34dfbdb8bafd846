"""The layered pipeline configuration: defaults ← config file ← environment ← flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocr.config import PipelineConfig, ScanOptions, load_pipeline_config, load_settings, read_config_file
from ocr.errors import UsageError


@pytest.fixture(autouse=True)
def no_ocr_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("OCR_")]:
        monkeypatch.delenv(name)


def test_defaults_without_file_or_environment() -> None:
    assert load_pipeline_config() == PipelineConfig()


def test_layers_override_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ocr.toml"
    config.write_text('recognizer = "from_file"\nfallback_threshold = 0.6\nthreads = 3\n'
                      'cloud_language_hints = ["en", "fr"]\n', encoding="utf-8")
    monkeypatch.setenv("OCR_FALLBACK_THRESHOLD", "0.7")
    monkeypatch.setenv("OCR_THREADS", "2")
    loaded = load_pipeline_config(config, {"threads": 1, "recognizer": None})
    assert loaded.recognizer == "from_file"  # file over default; a None flag is no override
    assert loaded.fallback_threshold == 0.7  # environment over file
    assert loaded.threads == 1  # flag over environment
    assert loaded.cloud_language_hints == ("en", "fr")
    assert loaded.lexicon == "lexicon_en"
    monkeypatch.setenv("OCR_LEXICON", "")
    assert load_pipeline_config().lexicon is None  # an empty setting turns the word list off


def test_config_file_from_environment_and_yaml_with_pipeline_table(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ocr.yaml"
    config.write_text("pipeline:\n  detector: student\n  cloud_max_requests: 5\n", encoding="utf-8")
    monkeypatch.setenv("OCR_CONFIG", str(config))
    monkeypatch.setenv("OCR_CLOUD_LANGUAGE_HINTS", "de, en")
    loaded = load_pipeline_config()
    assert (loaded.detector, loaded.cloud_max_requests, loaded.cloud_language_hints) == ("student", 5, ("de", "en"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown setting 'colour'"),
        ('threads = "many"\n', "threads: input should be a valid integer"),
        ("fallback_threshold = 1.5\n", "fallback_threshold must be in [0, 1]"),
        ("threads = [\n", "is not valid"),
    ],
)
def test_bad_config_files_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        load_pipeline_config(config)
    assert "\n" not in str(info.value)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_CLOUD_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="^OCR_CLOUD_TIMEOUT: cloud_timeout: input should be a valid number"):
        load_pipeline_config()


def test_engine_language_and_dpi_come_from_the_file_and_the_environment(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ocr.toml"
    config.write_text('engine = "neural"\nlang = "deu"\ndpi = 200\n[pipeline]\nthreads = 1\n', encoding="utf-8")
    settings = load_settings(config)
    assert (settings.engine, settings.lang, settings.dpi, settings.pipeline.threads) == ("neural", "deu", 200, 1)
    monkeypatch.setenv("OCR_ENGINE", "tesseract")
    monkeypatch.setenv("OCR_DPI", "150")
    settings = load_settings(config, {"lang": "eng"})
    assert (settings.engine, settings.lang, settings.dpi) == ("tesseract", "eng", 150)
    monkeypatch.setenv("OCR_DPI", "lots")
    with pytest.raises(UsageError, match="^OCR_DPI: dpi: input should be a valid integer"):
        load_settings(config)


def test_missing_config_file() -> None:
    with pytest.raises(UsageError, match="config file"):
        read_config_file("/nonexistent/ocr.toml")


def test_scan_options_stay_hashable_with_the_pipeline() -> None:
    a = ScanOptions(pipeline=PipelineConfig(fallback_threshold=0.6))
    b = ScanOptions(pipeline=PipelineConfig(fallback_threshold=0.6))
    assert hash(a) == hash(b) and a == b and a != ScanOptions()
