"""A local stand-in for Google's ImageAnnotator gRPC service, for testing the real client.

It serves ``google.cloud.vision.v1.ImageAnnotator/BatchAnnotateImages`` on 127.0.0.1
with the real protobuf messages. Its "OCR": the image's bands of dark rows (the regions
of a mosaic) are found, and band *i* is answered with ``texts[i]`` as one word whose box
is the band. ``script`` lists what to do per call: ``ok``, ``slow`` (sleep past the
client's timeout, then answer), ``429`` (RESOURCE_EXHAUSTED), ``denied``
(PERMISSION_DENIED, HTTP's 403), ``500`` (INTERNAL), ``garbage`` (bytes that are no
protobuf message) or ``malformed`` (a word without an outline).
"""

from __future__ import annotations

import io
import threading
from concurrent import futures
from typing import Any, Sequence

import grpc
import numpy as np
from google.cloud import vision
from PIL import Image

SERVICE = "google.cloud.vision.v1.ImageAnnotator"


def ink_bands(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each run of rows holding dark pixels, top to bottom."""
    dark = image.min(axis=2) < 128
    rows = dark.any(axis=1)
    bands, start = [], None
    for y, has_ink in enumerate(list(rows) + [False]):
        if has_ink and start is None:
            start = y
        elif not has_ink and start is not None:
            cols = np.flatnonzero(dark[start:y].any(axis=0))
            bands.append((int(cols[0]), start, int(cols[-1]) + 1, y))
            start = None
    return bands


class FakeVision:
    """The server; ``calls`` counts requests, ``hints`` records each request's language hints."""

    def __init__(self, texts: Sequence[str], script: Sequence[str] = ("ok",), slow_seconds: float = 2.0) -> None:
        self.texts = list(texts)
        self.script = list(script)
        self.slow_seconds = slow_seconds
        self.calls = 0
        self.hints: list[list[str]] = []
        self.release = threading.Event()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(
            self._annotate,
            request_deserializer=vision.BatchAnnotateImagesRequest.pb().FromString,
            response_serializer=lambda answer: answer if isinstance(answer, bytes) else answer.SerializeToString(),
        )
        self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {"BatchAnnotateImages": handler})])
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> FakeVision:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.stop(grace=None)

    def channel(self) -> grpc.Channel:
        """An insecure channel to this server, for the client's transport."""
        return grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def _annotate(self, request: Any, context: grpc.ServicerContext) -> Any:
        action = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if action == "429":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota exceeded")
        if action == "denied":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "Cloud Vision API has not been used in project")
        if action == "500":
            context.abort(grpc.StatusCode.INTERNAL, "internal error")
        if action == "garbage":
            return b"\xff\xfe<html>502 Bad Gateway</html>"
        if action == "slow":
            self.release.wait(self.slow_seconds)
        response = vision.BatchAnnotateImagesResponse.pb()()
        for item in request.requests:
            self.hints.append(list(item.image_context.language_hints))
            image = np.asarray(Image.open(io.BytesIO(item.image.content)).convert("RGB"))
            answer = response.responses.add()
            page = answer.full_text_annotation.pages.add()
            paragraph = page.blocks.add().paragraphs.add()
            for text, (x0, y0, x1, y1) in zip(self.texts, ink_bands(image)):
                word = paragraph.words.add()
                word.confidence = 0.97
                if action != "malformed":
                    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
                        vertex = word.bounding_box.vertices.add()
                        vertex.x, vertex.y = x, y
                for char in text:
                    word.symbols.add().text = char
        return response
