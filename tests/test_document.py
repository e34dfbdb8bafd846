"""The Document JSON contract: exact round trips and the JSON Schema."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from rich_document import rich_document

from ocr.document import SCHEMA_ID, Block, Document, Line, Word, box_polygon
from ocr.export import render, schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    document_schema = schema()
    jsonschema.Draft202012Validator.check_schema(document_schema)
    return jsonschema.Draft202012Validator(document_schema)


def test_json_round_trip_is_exact() -> None:
    document = rich_document()
    text = render(document, "json")
    again = Document.from_dict(json.loads(text))
    assert again == document
    assert render(again, "json") == text
    assert "\n" not in text and "wörld" in text and "中文" in text  # one line, not ASCII-escaped


def test_schema_identity() -> None:
    document_schema = schema()
    assert document_schema["$id"] == SCHEMA_ID
    assert document_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_required_names_match_to_dict() -> None:
    data = rich_document().to_dict()
    defs = schema()["$defs"]
    page = data["pages"][0]
    block = page["blocks"][0]
    line = block["lines"][0]
    word = line["words"][1]
    assert set(schema()["required"]) == set(data)
    assert set(defs["page"]["required"]) == set(page)
    assert set(defs["block"]["required"]) == set(block)
    assert set(defs["line"]["required"]) == set(line)
    assert set(defs["word"]["required"]) == set(word) - {"alternatives"}
    assert set(defs["alternative"]["required"]) == set(word["alternatives"][0])


def test_rich_document_validates(validator: jsonschema.Draft202012Validator) -> None:
    validator.validate(json.loads(render(rich_document(), "json")))


def test_unknown_properties_are_allowed(validator: jsonschema.Draft202012Validator) -> None:
    data = rich_document().to_dict()
    data["pages"][0]["blocks"][0]["lines"][0]["words"][0]["x_font"] = "serif"
    data["generator"] = "test"
    validator.validate(data)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(data)
    target = broken
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return broken


_DELETE = object()
_WORD = ("pages", 0, "blocks", 0, "lines", 0, "words", 0)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "ocr.document/2"),
        (("source",), _DELETE),
        (("pages", 0, "index"), -1),
        (("pages", 0, "width"), 10.5),
        (("pages", 0, "blocks"), _DELETE),
        (("pages", 0, "blocks", 0, "lines", 0, "words"), _DELETE),
        ((*_WORD, "confidence"), 1.5),
        ((*_WORD, "confidence"), -0.1),
        ((*_WORD, "polygon"), [[0, 0], [1, 0], [1, 1]]),
        ((*_WORD, "polygon", 0), [0, "a"]),
        ((*_WORD, "text"), 7),
        ((*_WORD, "source"), _DELETE),
        (("pages", 0, "blocks", 0, "lines", 0, "words", 1, "alternatives", 0, "confidence"), 2),
    ],
)
def test_broken_documents_are_rejected(
    validator: jsonschema.Draft202012Validator, path: tuple[Any, ...], value: Any
) -> None:
    broken = _set(rich_document().to_dict(), path, value)
    assert list(validator.iter_errors(broken)), f"accepted a document with {path} = {value!r}"


def test_from_dict_refuses_other_contracts() -> None:
    data = rich_document().to_dict()
    data["schema"] = "something/1"
    with pytest.raises(ValueError, match="ocr.document/1"):
        Document.from_dict(data)


def test_block_text_puts_the_cells_of_a_row_on_one_text_line() -> None:
    def line(text: str, x0: float, y0: float) -> Line:
        return Line.of([Word(text, box_polygon(x0, y0, x0 + 10 * len(text), y0 + 20), 0.9, "t")])

    table = Block.of([line("Milk 1L", 0, 0), line("1.49", 200, 2), line("Bread", 0, 30), line("2.30", 200, 31)])
    assert table.text == "Milk 1L 1.49\nBread 2.30"
    # the next line of a paragraph starts back on the left: its own text line even where boxes overlap (skew)
    skewed = Block.of([line("first line", 0, 0), line("second", 0, 12)])
    assert skewed.text == "first line\nsecond"
