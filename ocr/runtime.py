"""One inference-session abstraction over onnxruntime: providers and threads come from config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EngineError


@dataclass(frozen=True)
class RuntimeConfig:
    """How models run: ``intra_op_threads`` 0 lets onnxruntime choose; ``device`` is ``auto``, ``cpu`` or ``cuda``;
    ``memory_pattern`` lets onnxruntime plan one block per input shape, which speeds up runs of one
    size but keeps a block for every size seen (a detector's pages nearly all differ)."""

    intra_op_threads: int = 0
    device: str = "auto"
    memory_pattern: bool = True


class Session:
    """An onnxruntime session on one model file, with named numpy inputs and outputs."""

    def __init__(self, path: str | Path, config: RuntimeConfig = RuntimeConfig()) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise EngineError(f"model file not found: {path} (run `ocr models` to export it)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.enable_mem_pattern = config.memory_pattern
        available = ort.get_available_providers()
        wanted = ["CPUExecutionProvider"]
        if config.device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            wanted.insert(0, "CUDAExecutionProvider")
        elif config.device == "cuda":
            raise EngineError("device 'cuda' requested but onnxruntime has no CUDA provider here")
        self.path = path
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
        except Exception as exc:  # onnxruntime reports a corrupt or truncated model with its own exception types
            reason = " ".join(str(exc).split())[:200]
            raise EngineError(f"onnxruntime cannot load model {path}: {reason}") from None
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.providers = self._session.get_providers()
        self._release = ort.RunOptions()
        self._release.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, *inputs: np.ndarray, release_memory: bool = False) -> list[np.ndarray]:
        """Run the model on positional inputs; returns outputs in declaration order. With ``release_memory``
        the memory arena gives back what this run took beyond what it held before (a large input's
        activations would otherwise stay reserved for the life of the session)."""
        feed = dict(zip(self.input_names, inputs, strict=True))
        return self._session.run(self.output_names, feed, self._release if release_memory else None)
