"""`ocr bench`: the page metrics on known cases, and the harness end to end with Tesseract on generated sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from ocr.cli import main
from ocr.bench import adapters, harness, runner
from ocr.document import box_polygon
from ocr.eval.detection import match_end_to_end
from ocr.eval.metrics import bag_counts, word_edit_distance

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PAGE_LINES = (("Quarterly", "report", "for", "2024"), ("Sales", "grew", "by", "12", "percent"))


def test_bag_of_words_ignores_order_case_and_punctuation() -> None:
    counts = bag_counts("World, hello! extra", "hello world")
    assert (counts.common, counts.predicted, counts.truth) == (2, 3, 2)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.recall == 1.0
    assert counts.f1 == pytest.approx(0.8)
    assert bag_counts("a a b", "a b b").common == 2  # multisets: each token counts as often as it occurs
    assert (bag_counts("", "").f1, (bag_counts("x", "y") + bag_counts("y", "y")).f1) == (0.0, 0.5)


def test_word_edit_distance_counts_words() -> None:
    assert word_edit_distance("the cat sat", "the  cat sat") == 0
    assert word_edit_distance("the hat sat down", "the cat sat") == 2


def test_end_to_end_needs_box_and_text() -> None:
    a, b = box_polygon(0, 0, 100, 30), box_polygon(200, 0, 300, 30)
    shifted = box_polygon(60, 0, 160, 30)  # IoU 0.25 with a
    truths = [(a, "Total"), (b, "12.50")]
    assert match_end_to_end([(a, "TOTAL"), (b, "12.50")], truths, [False, False]).matched == 2
    counts = match_end_to_end([(a, "Totals"), (shifted, "12.50")], truths, [False, False])
    assert (counts.matched, counts.truths, counts.detections) == (0, 2, 2)
    ignored = match_end_to_end([(a, "x"), (b, "12.50")], [(a, "###"), (b, "12.50")], [True, False])
    assert (ignored.matched, ignored.truths, ignored.detections, ignored.hmean) == (1, 1, 1, 1.0)


def test_pages_without_boxes_are_left_out_of_the_box_metrics() -> None:
    from ocr.datasets import Region as Truth, Sample

    box = box_polygon(10, 10, 110, 40)
    boxed = Sample(Path("a.png"), "Total", words=(Truth("Total", tuple(map(tuple, box))),))
    bare = Sample(Path("b.png"), "Paid in full")  # text only, as most of tesseract_testing
    found = adapters.Reading("Total", [adapters.Region("Total", box, 0.9, "neural")])
    other = adapters.Reading("Paid in full", [adapters.Region("Paid", box_polygon(0, 0, 50, 20), 0.9, "neural")])
    scores = harness.score_pages(harness.BenchSet("mixed", Path("."), "pages", (boxed, bare), 2), [found, other])
    assert (scores["det_precision"], scores["det_recall"], scores["e2e_f1"], scores["bow_f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert scores["det_pages"] == 1


def _page_set(folder: Path) -> None:
    """Two rendered pages with word and line boxes, in the shared manifest format."""
    font = ImageFont.truetype(FONT, 36)
    (folder / "images").mkdir(parents=True)
    rows = []
    for n in range(2):
        image = Image.new("RGB", (900, 260), "white")
        draw = ImageDraw.Draw(image)
        words, lines = [], []
        for row, line in enumerate(PAGE_LINES[n:] + PAGE_LINES[:n]):
            x, y = 40, 50 + 90 * row
            boxes = []
            for word in line:
                draw.text((x, y), word, font=font, fill="black")
                x0, y0, x1, y1 = draw.textbbox((x, y), word, font=font)
                boxes.append((x0, y0, x1, y1))
                words.append({"text": word, "box": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
                x = x1 + 22
            lx0, ly0, lx1, ly1 = boxes[0][0], min(b[1] for b in boxes), boxes[-1][2], max(b[3] for b in boxes)
            lines.append({"text": " ".join(line), "box": [[lx0, ly0], [lx1, ly0], [lx1, ly1], [lx0, ly1]]})
        image.save(folder / "images" / f"page{n}.png")
        rows.append({"image": f"images/page{n}.png", "text": "\n".join(ln["text"] for ln in lines),
                     "words": words, "lines": lines})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _crop_set(folder: Path) -> None:
    """Two word crops (ground truth upper case, as in IIIT5K)."""
    font = ImageFont.truetype(FONT, 40)
    (folder / "images").mkdir(parents=True)
    rows = []
    for n, word in enumerate(("Harbour", "Station")):
        left, top, right, bottom = font.getbbox(word)
        image = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
        ImageDraw.Draw(image).text((8 - left, 8 - top), word, font=font, fill="black")
        image.save(folder / "images" / f"{n}.png")
        rows.append({"image": f"images/{n}.png", "text": word.upper()})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_bench_scores_tesseract_and_skips_a_missing_peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _page_set(tmp_path / "pages")
    _crop_set(tmp_path / "crops")
    monkeypatch.setitem(adapters.PEERS, "fakepeer", adapters.Peer("fakepeer", "no_such_module_for_bench", None, "nothing"))
    monkeypatch.setitem(adapters.PEERS, "venvpeer", adapters.Peer("venvpeer", "venvpeer", "venvpeer", "nothing"))
    out = tmp_path / "out"
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<!-- ocr bench: begin -->\nold table\n<!-- ocr bench: end -->\n\nAfter.\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "bench", str(tmp_path / "pages"), f"{tmp_path / 'crops'}:1", "--engines", "tesseract,fakepeer,venvpeer",
        "--out", str(out), "--venvs", str(tmp_path / "venvs"), "--jobs", "2", "--readme", str(readme),
    ])
    assert result.exit_code == 0, result.output
    assert "skipping fakepeer: not installed: module no_such_module_for_bench not found" in result.stderr
    assert f"skipping venvpeer: not installed: no environment at {tmp_path / 'venvs' / 'venvpeer'}" in result.stderr

    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(report["skipped"]) == {"fakepeer", "venvpeer"} and report["failures"] == []
    assert report["settings"]["threads"] == 1 and report["settings"]["jobs"] == 2
    assert report["settings"]["thread_variables"]["OMP_THREAD_LIMIT"] == "1"
    pages, crops = report["results"]
    assert (pages["engine"], pages["kind"], pages["images"], crops["kind"], crops["images"]) == (
        "tesseract", "pages", 2, "crops", 1)
    assert pages["bow_f1"] > 0.9 and pages["cer"] < 0.1 and pages["wer"] < 0.2
    assert pages["det_level"] == "words" and pages["det_hmean"] > 0.8 and pages["e2e_f1"] > 0.8
    assert crops["acc_alnum"] == 1.0 and crops["acc"] == 0.0  # read as printed, scored against upper case
    for r in (pages, crops):
        assert r["median_s_per_image"] > 0 and r["median_cpu_s_per_image"] > 0 and r["peak_rss_mb"] > 10 and r["failed_images"] == 0
        assert "tesseract" in r["versions"]
    raw = (out / "raw" / "tesseract__pages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line).get("index") for line in raw] == [0, 1, None]

    table = (out / "results.md").read_text(encoding="utf-8")
    assert table in result.stdout
    assert "| pages | tesseract | 2 |" in table and "| crops | tesseract | 1 | 100.0 | 0.0 |" in table
    assert "images read: crops its first 1 of 2; the other sets whole" in table
    assert "fakepeer skipped: not installed" in table
    with Image.open(out / "accuracy_vs_speed.png") as plot:
        assert plot.width > 300

    written = readme.read_text(encoding="utf-8")
    assert written.startswith("# Title\n\n<!-- ocr bench: begin -->") and written.endswith("<!-- ocr bench: end -->\n\nAfter.\n")
    assert "old table" not in written and table.rstrip("\n") in written
    assert "![Accuracy against CPU seconds per image](out/accuracy_vs_speed.png)" in written
    assert "- **pages**: most accurate tesseract " in written and " CPU s/crop." in written
    assert f"--out {out} --readme {readme}`" in written


def test_the_runner_decodes_gray_scans_as_pil_does_rgb(tmp_path: Path) -> None:
    one_bit = Image.new("1", (40, 30), 1)
    ImageDraw.Draw(one_bit).rectangle((5, 5, 20, 12), fill=0)
    gray = Image.new("L", (40, 30), 200)
    gray.putpixel((3, 4), 17)
    for name, image in (("one_bit.png", one_bit), ("gray.png", gray)):
        image.save(tmp_path / name)
        decoded = runner._image(str(tmp_path / name))
        assert decoded.shape == (30, 40, 3) and decoded.dtype == np.uint8
        assert (decoded == np.asarray(image.convert("RGB"))).all()


def test_bench_refuses_a_readme_without_markers_before_running(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# No markers\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "no_such_set", "--engines", "tesseract", "--readme", str(readme)])
    assert result.exit_code == 2 and "has no <!-- ocr bench: begin --> ... <!-- ocr bench: end --> block" in result.output
    assert readme.read_text(encoding="utf-8") == "# No markers\n"


def test_a_failing_engine_is_reported_not_fatal(tmp_path: Path) -> None:
    _crop_set(tmp_path / "crops")
    bench_set = harness.load_set(str(tmp_path / "crops"), None)
    run = harness.run_engine("rapidocr-typo", bench_set, 1, tmp_path, tmp_path / "raw")
    assert run.rows == [] and run.error is not None and "rapidocr-typo" in run.error


def test_eval_recognize_scores_rapidocr_on_the_same_crops(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner
    from PIL import Image, ImageDraw, ImageFont

    from ocr.cli import main
    from ocr.training.synth import find_fonts

    words = tmp_path / "words"
    (words / "images").mkdir(parents=True)
    font = ImageFont.truetype(find_fonts()[0], 36)
    rows = []
    for n, text in enumerate(["Kitchen", "HARBOUR", "2024"]):
        image = Image.new("RGB", (220, 56), "white")
        ImageDraw.Draw(image).text((10, 6), text, fill="black", font=font)
        image.save(words / "images" / f"{n}.png")
        rows.append({"image": f"images/{n}.png", "text": text})
    (words / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["eval", "recognize", str(words), "--model", "recognizer_fast", "--model", "rapidocr",
                                       "--json", str(report), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "recognizer_fast acc-an" in result.output and "rapidocr acc-an" in result.output
    data = json.loads(report.read_text())
    by_model = {r["model"]: r for r in data["results"]}
    assert by_model["rapidocr"]["crops"] == by_model["recognizer_fast"]["crops"] == 3
    assert by_model["rapidocr"]["acc_ci"] == 1.0, by_model["rapidocr"]["errors"]
    rows = [r for r in data["pooled"]["rapidocr"]["reliability"] if r["count"]]
    assert sum(r["count"] for r in rows) == 3 and all(0.5 < r["mean_confidence"] <= 1 for r in rows)
    easy = CliRunner().invoke(main, ["eval", "recognize", str(words), "--model", "easyocr"])
    assert easy.exit_code == 2 and "venv of its own" in easy.output
