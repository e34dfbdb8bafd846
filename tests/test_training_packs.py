"""Real training text: PDF pages with their text layer, packs of crops from every kind of set, and
training on a pack with data-loading workers; all on data made here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from ocr.cli import main
from ocr.training.packs import SetSpec, build_pack, load_pack, save_pack
from ocr.training.pdf_text import render_page
from ocr.training.recognizer import build_data, preset, train
from ocr.training.synth import find_fonts

SAMPLE_PDF = Path(__file__).parents[1] / "samples" / "two_page.pdf"
WORDS = [("invoice", 9), ("total", 8), ("date", 7), ("amount", 5)]


def test_pdf_words_lie_on_their_ink_at_any_resolution() -> None:
    document = pdfium.PdfDocument(str(SAMPLE_PDF))
    low, high = render_page(document, 0, 100), render_page(document, 0, 200)
    assert [w.text for w in low.words] == [w.text for w in high.words] and len(low.words) >= 10
    assert high.image.shape[0] == pytest.approx(2 * low.image.shape[0], abs=2)
    for word_low, word_high in zip(low.words, high.words):
        assert np.asarray(word_high.box) == pytest.approx(2 * np.asarray(word_low.box), abs=1.5)
    for page in (low, high):
        for word in page.words:
            (x0, y0), _, (x1, y1), _ = word.box
            inside = page.image[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
            assert inside.min() < 128, word.text  # the word's box holds ink
        # every word belongs to one line, in order
        assert " ".join(line.text for line in page.lines).split() == [w.text for w in page.words]
    text_layer = document[0].get_textpage().get_text_range().split()
    assert [w.text for w in low.words] == text_layer


def _word_pages(folder: Path, pages: int) -> None:
    """A page set with word boxes: three words per page, the page number in the last."""
    font = ImageFont.truetype(find_fonts()[0], 24)
    (folder / "images").mkdir(parents=True)
    rows = []
    for p in range(pages):
        image = Image.new("L", (400, 80), 255)
        draw = ImageDraw.Draw(image)
        words, x = [], 10
        for text in ("Invoice", "total", f"p{p}"):
            x0, y0, x1, y1 = draw.textbbox((x, 25), text, font=font)
            draw.text((x, 25), text, fill=0, font=font)
            words.append({"text": text, "box": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
            x = x1 + 20
        image.save(folder / "images" / f"{p:03d}.png")
        rows.append({"image": f"images/{p:03d}.png", "text": " ".join(w["text"] for w in words), "words": words})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _word_crops(folder: Path, count: int) -> None:
    """A word-crop set (one word per image, no boxes)."""
    font = ImageFont.truetype(find_fonts()[0], 28)
    (folder / "images").mkdir(parents=True)
    rows = []
    for i in range(count):
        text = f"WORD{i}"
        image = Image.new("RGB", (140, 44), (200, 180, 40))
        ImageDraw.Draw(image).text((6, 6), text, fill=(20, 20, 90), font=font)
        image.save(folder / "images" / f"{i:03d}.jpg")
        rows.append({"image": f"images/{i:03d}.jpg", "text": text})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def pack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    _word_pages(root / "forms", pages=4)
    _word_crops(root / "scene", count=6)
    (root / "pdfs").mkdir()
    (root / "pdfs" / "manifest.jsonl").write_text(json.dumps({"pdf": str(SAMPLE_PDF), "pages": 2}) + "\n")
    sets = {"forms": SetSpec(("words",), holdout=1), "scene": SetSpec(("words",), holdout=2, caseless=True),
            "pdfs": SetSpec(("words", "lines"), holdout=0, pdf=True)}
    pack = build_pack(root, sets, per_page=8, log=lambda _: None)
    path = root / "pack.pkl"
    save_pack(pack, path)
    return path


def test_a_pack_holds_out_the_last_pages_and_travels_whole(pack_file: Path) -> None:
    pack = load_pack(pack_file)
    assert {c.page for c in pack.val["forms"]} == {"003.png"}
    assert "003.png" not in {c.page for c in pack.train["forms"]} and len(pack.train["forms"]) == 9
    assert sorted(c.text for c in pack.val["scene"]) == ["WORD4", "WORD5"] and pack.caseless["scene"]
    # a PDF page gives at most per_page words and a quarter as many lines; the sample's second
    # page is a scan without a text layer, so it gives none
    assert {c.page.split("#")[1] for c in pack.train["pdfs"]} == {"0"} and len(pack.train["pdfs"]) == 8 + 2
    assert all(len(c.text.split()) == 1 for c in pack.train["pdfs"][:8])
    assert all(len(c.text.split()) > 1 for c in pack.train["pdfs"][8:])
    for crop in pack.train["forms"] + pack.train["scene"] + pack.train["pdfs"]:
        x0, y0, x1, y1 = crop.box
        h, w = crop.pixels.shape
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and y1 - y0 <= 32
        assert crop.pixels[y0:y1, x0:x1].min() < 128  # the box still holds the word's ink after WebP


def test_training_on_a_pack_validates_each_set_and_loads_data_in_workers(pack_file: Path, tmp_path: Path) -> None:
    cfg = replace(preset("tiny"), pack=str(pack_file), mix={"forms": 1.0, "scene": 0.5, "synth_word": 0.5}, steps=3,
                  val_every=3, workers=2, cache=str(tmp_path / "cache"))
    data = build_data(cfg, words=WORDS, fonts=find_fonts()[:2])
    assert set(data.val) == {"forms_val", "scene_val", "synth_val"}
    assert all(s.caseless for s in data.val["scene_val"]) and not any(s.caseless for s in data.val["forms_val"])
    state = train(cfg, tmp_path / "run", data=data, echo=lambda _: None)
    assert state.step == 3
    val = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if '"val"' in line]
    assert {"forms_val_cer", "scene_val_acc", "synth_val_cer"} <= val[-1].keys()


def test_mix_options_are_checked(pack_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["train", "recognizer", "--config", "tiny", "--out", str(tmp_path / "run"), "--steps", "1"]
    unknown = runner.invoke(main, [*base, "--mix", "receipts=1"])
    assert unknown.exit_code == 2 and "unknown source 'receipts'" in unknown.output
    malformed = runner.invoke(main, [*base, "--mix", "synth_word=lots"])
    assert malformed.exit_code == 2 and "NAME=WEIGHT" in malformed.output
    no_pack = runner.invoke(main, [*base, "--mix", "funsd_train=1"])
    assert no_pack.exit_code == 2 and "give --pack" in no_pack.output


def test_the_pack_command_cuts_the_named_sets_of_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _word_crops(tmp_path / "train" / "svt_train", count=30)
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    out = tmp_path / "pack.pkl"
    result = CliRunner().invoke(main, ["train", "pack", "--set", "svt_train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 training crops" in result.output  # SVT's last 25 words are held out
    pack = load_pack(out)
    assert list(pack.train) == ["svt_train"] and len(pack.val["svt_train"]) == 25
    assert pack.caseless["svt_train"]  # SVT annotates every word in upper case, whatever the sign shows
    unknown = CliRunner().invoke(main, ["train", "pack", "--set", "receipts", "--out", str(out)])
    assert unknown.exit_code == 2 and "unknown set 'receipts'" in unknown.output
