"""The rough edges a new user met (issue 27): outputs, templates, languages, settings, metadata, rows."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sample_files import sample
from service_process import running_service
from text_images import REPO, ocr_command

from ocr.cli import main
from ocr import __version__
from ocr.batch import BatchSettings
from ocr.config import ScanOptions
from ocr.document import Block, Line, Word, box_polygon
from ocr.errors import EXIT_USAGE
from ocr.models import weights_dir
from ocr.templates import load_template


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_output_ending_in_a_slash_is_a_folder_made_for_one_file_per_input(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    result = invoke("scan", sample("clean_page.png"), sample("receipt.png"), "-e", "tesseract", "-f", "hocr",
                    "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["clean_page.hocr", "receipt.hocr"]
    assert all(p.read_text(encoding="utf-8").count("<html") == 1 for p in out.iterdir())


@pytest.mark.parametrize(("name", "start"), [("page.hocr", "<?xml"), ("page.json", '{"schema"'),
                                             ("page.jsonl", '{"schema"'), ("page.xml", "<?xml"), ("page.txt", "Annual")])
def test_the_format_comes_from_the_output_extension(tmp_path: Path, name: str, start: str) -> None:
    assert invoke("scan", sample("clean_page.png"), "-e", "tesseract", "-o", tmp_path / name).exit_code == 0
    assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)
    assert invoke("scan", sample("clean_page.png"), "-e", "tesseract", "-f", "text", "-o", tmp_path / name).exit_code == 0
    assert (tmp_path / name).read_text(encoding="utf-8").startswith("Annual")  # -f wins


TEMPLATE = sample("scoreboard.template.yaml")


@pytest.mark.parametrize("flags", [["-f", "text"], ["--mode", "line"], ["--viz", "boxes.png"]])
def test_template_refuses_flags_it_cannot_honour(flags: list[str]) -> None:
    result = invoke("scan", sample("scoreboard.png"), "--template", TEMPLATE, *flags)
    assert result.exit_code == EXIT_USAGE
    assert flags[0] in result.output


def test_template_takes_the_engine_flag_and_reads_every_pdf_page() -> None:
    result = invoke("scan", sample("two_page.pdf"), "--template", TEMPLATE, "-e", "tesseract")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["page"] for r in records] == [0, 1]
    sources = {f["source"] for r in records for f in r["fields"].values()} | {
        a["source"] for r in records for f in r["fields"].values() for a in f["alternatives"]}
    assert sources <= {"tesseract", None}


def test_template_engines_may_be_one_name(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("engines: tesseract\nfields:\n  - {name: a, box: [0, 0, 10, 10]}\n", encoding="utf-8")
    assert load_template(template).engines == ("tesseract",)
    template.write_text("engines: neural, nope\nfields:\n  - {name: a, box: [0, 0, 10, 10]}\n", encoding="utf-8")
    with pytest.raises(Exception, match="unknown engine 'nope'"):
        load_template(template)


def test_neural_refuses_a_language_it_cannot_read() -> None:
    result = invoke("scan", sample("clean_page.png"), "-e", "neural", "--lang", "xyz")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr == "ocr: engine 'neural' reads English only (--lang eng); for 'xyz' use the tesseract or " \
                            "hybrid engine\n"


def test_the_batch_settings_key_follows_the_model_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("craft_lite.int8.onnx", "craft_lite_photo.int8.onnx", "recognizer_medium.int8.onnx",
                 "recognizer_medium.int8.json", "lexicon_en.tsv.gz"):
        shutil.copy(weights_dir() / name, tmp_path / name)
    monkeypatch.setenv("OCR_WEIGHTS_DIR", str(tmp_path))
    settings = BatchSettings(ScanOptions(engine="neural"))
    before = settings.key()
    assert settings.key() == before
    with (tmp_path / "lexicon_en.tsv.gz").open("ab") as stream:
        stream.write(b"\0")  # a new word list
    assert settings.key() != before


def test_json_records_how_the_input_was_read_and_pdf_page_sizes(tmp_path: Path) -> None:
    result = invoke("scan", sample("two_page.pdf"), "-e", "neural", "--dpi", "144", "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    metadata = document["metadata"]
    assert {k: metadata[k] for k in ("engine", "version", "dpi", "language", "mode", "format")} == {
        "engine": "neural", "version": __version__, "dpi": 144, "language": "eng", "mode": "page", "format": "PDF"}
    recognizer = weights_dir() / "recognizer_medium.int8.onnx"
    assert metadata["models"]["recognizer"] == {"file": recognizer.name,
                                                "sha256": hashlib.sha256(recognizer.read_bytes()).hexdigest()}
    assert set(metadata["models"]) == {"detector", "photograph detector", "recognizer", "recognizer settings", "lexicon"}
    for page in document["pages"]:
        assert page["points"] == [round(page["width"] / 2, 2), round(page["height"] / 2, 2)]  # 144 dpi: 2 px/pt
    hocr = invoke("scan", sample("two_page.pdf"), "-e", "tesseract", "--dpi", "144", "-f", "hocr").stdout
    assert hocr.count("; scan_res 144 144") == 2


def test_rows_group_a_tables_cells_in_json_and_text() -> None:
    def line(text: str, x0: float, y0: float) -> Line:
        return Line.of([Word(text, box_polygon(x0, y0, x0 + 10 * len(text), y0 + 20), 0.9, "test")])

    block = Block.of([line("Milk 1L", 0, 0), line("1.49", 200, 2), line("Bread", 0, 40), line("2.30", 200, 40)])
    assert block.rows == ((0, 1), (2, 3))
    assert block.to_dict()["rows"] == [[0, 1], [2, 3]]
    assert block.text == "Milk 1L 1.49\nBread 2.30"


def test_engine_and_models_come_from_config_and_environment_in_batch_and_serve(tmp_path: Path) -> None:
    config = tmp_path / "ocr.toml"
    config.write_text('engine = "tesseract"\nlang = "eng"\n', encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(ocr_command() + ["batch", str(sample("receipt.png")), "--out", str(out), "--config",
                                           str(config), "--workers", "1"], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "receipt.png.json").read_text(encoding="utf-8"))["metadata"]["engine"] == "tesseract"
    refused = subprocess.run(ocr_command() + ["serve", "--config", str(tmp_path / "missing.toml")], capture_output=True,
                             text=True, cwd=REPO, timeout=60)
    assert refused.returncode == EXIT_USAGE and refused.stderr.startswith("ocr: config file ")
    with running_service(tmp_path / "service", "--workers", "1", "--config", str(config), "--threads", "1") as service:
        assert httpx.get(f"{service.url}/v1/engines").json()["default"] == "tesseract"
        scanned = httpx.post(f"{service.url}/v1/ocr", content=sample("receipt.png").read_bytes(),
                             headers={"Content-Type": "image/png"}, timeout=120).json()
        assert scanned["metadata"]["engine"] == "tesseract"


def test_ocr_engine_variable_chooses_the_scan_engine() -> None:
    done = subprocess.run(ocr_command() + ["scan", str(sample("clean_page.png")), "-f", "json"], capture_output=True,
                          text=True, cwd=REPO, timeout=300, env={**os.environ, "OCR_ENGINE": "tesseract"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metadata"]["engine"] == "tesseract"
