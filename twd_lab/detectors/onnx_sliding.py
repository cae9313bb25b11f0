"""The speech-embedding network opened up in time: many windows in one call, and stage by stage for streams.

The embedding network (``embedding_model.onnx``, see :mod:`twd_lab.detectors.speech_embedding`) reads one
window of 76 mel frames and gives one 96-number vector. Inside, every convolution is unpadded in time and
three poolings halve time, so it is a sliding network with stride 8 frames whose input shape alone says
76. Here, with the ``onnx`` package:

* :func:`sliding_model` turns its two shape-fixing Reshapes (NHWC <-> NCHW with one channel) into
  Transposes and frees the time axes: ``(1, frames, 32, 1) -> (1, steps, 1, 96)``, one call for
  ``steps = (frames - 76) // 8 + 1`` windows;
* :func:`stages` cuts that model after each time pooling into four parts, so a stream computes every layer
  once per frame (:class:`twd_lab.detectors.speech_embedding.FrameEmbedder`), instead of again for each of
  the 9.5 windows a frame belongs to.

Both give the windows' numbers (to float rounding, ~1e-6); ``speech_embedding`` checks that when it loads
them and falls back to window-by-window calls when ``onnx`` is missing or the graph is not this one.
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Shapes of the two Reshapes the export wrote: NHWC input (76 frames, 32 + 2 padded mels) and output.
_INPUT_SHAPE = [-1, 1, 76, 34]
_OUTPUT_SHAPE = [-1, 1, 1, 96]


@dataclass(frozen=True)
class Stage:
    """One part of the sliding network.

    ``model``: ONNX bytes. ``time_axis``: the time axis of its input (1 for the NHWC mel frames, 2 after).
    ``shrink``: time steps its unpadded convolutions remove. ``pooled``: whether it ends by halving time
    (then ``2 n + shrink`` inputs give ``n`` outputs; otherwise ``n + shrink`` give ``n``).
    """

    model: bytes
    time_axis: int
    shrink: int
    pooled: bool


def _onnx():
    try:
        return importlib.import_module("onnx")
    except ImportError:
        return None


def _load(model: str | Path | bytes):
    """The ONNX proto of a file or of serialized bytes."""
    onnx = _onnx()
    return onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))


def with_weights(model_path: str | Path | bytes, weights_path: str | Path) -> bytes:
    """ONNX bytes of the model with some of its weights replaced: ``weights_path`` is a ``.npz`` of arrays
    named as the model's initializers (a fine-tuned front end, :mod:`twd_lab.front_end_tuning`).

    Raises ``ValueError`` naming the file when a name is not one of the model's weights or a shape differs.
    """
    if _onnx() is None:
        raise ImportError('a fine-tuned front end needs the onnx package: pip install "twd-lab[embedding]"')
    from onnx import numpy_helper

    model = _load(model_path)
    inits = {i.name: i for i in model.graph.initializer}
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise FileNotFoundError(f"front end: {weights_path} is missing")
    try:
        with np.load(weights_path) as f:
            weights = {name: f[name] for name in f.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"front end: {weights_path} is not a .npz of weights ({err})") from None
    for name, value in weights.items():
        if name not in inits:
            raise ValueError(
                f"front end: {weights_path} holds {name!r}, which is not a weight of the embedding model"
            )
        shape = tuple(inits[name].dims)
        if value.shape != shape:
            raise ValueError(
                f"front end: {weights_path} gives {name!r} the shape {value.shape}, expected {shape}"
            )
        inits[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    return model.SerializeToString()


def _open_time_axis(model_path: str | Path | bytes):
    """The model proto with time axes free, or None (no onnx, or not the graph described above)."""
    onnx = _onnx()
    if onnx is None:
        return None
    from onnx import helper, numpy_helper

    model = _load(model_path)
    graph = model.graph
    nodes = list(graph.node)
    first, last = nodes[1], nodes[-1]
    wanted = {first.input[1], last.input[1]}  # only the two shapes: converting every weight costs 0.25 s
    consts = {i.name: numpy_helper.to_array(i).tolist() for i in graph.initializer if i.name in wanted}
    if not (
        first.op_type == "Reshape"
        and last.op_type == "Reshape"
        and consts.get(first.input[1]) == _INPUT_SHAPE
        and consts.get(last.input[1]) == _OUTPUT_SHAPE
    ):
        return None
    to_nchw = helper.make_node("Transpose", [first.input[0]], [first.output[0]], perm=[0, 3, 1, 2])
    to_nhwc = helper.make_node("Transpose", [last.input[0]], [last.output[0]], perm=[0, 2, 3, 1])
    del graph.node[:]
    graph.node.extend([nodes[0], to_nchw, *nodes[2:-1], to_nhwc])
    for name in (first.input[1], last.input[1]):
        graph.initializer.remove(next(i for i in graph.initializer if i.name == name))
    for value, axis_name in ((graph.input[0], "frames"), (graph.output[0], "steps")):
        dim = value.type.tensor_type.shape.dim[1]
        dim.ClearField("dim_value")
        dim.dim_param = axis_name
    return model


def sliding_model(model_path: str | Path | bytes) -> bytes | None:
    """ONNX bytes of the embedding model taking any number of frames ``(1, frames, 32, 1)`` and giving
    ``(1, steps, 1, 96)``; None if ``onnx`` is missing or the graph is not the expected one."""
    model = _open_time_axis(model_path)
    return None if model is None else model.SerializeToString()


def _attr(node, name):
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


def stages(model_path: str | Path | bytes) -> list[Stage] | None:
    """The sliding model cut after each pooling that halves time (NCHW: ``strides[0] == 2``); None as
    :func:`sliding_model`."""
    model = _open_time_axis(model_path)
    if model is None:
        return None
    import onnx.shape_inference
    import onnx.utils

    nodes = list(model.graph.node)
    cuts, shrink, shrinks = [], 0, []
    for node in nodes:
        if node.op_type == "Conv":
            shrink += int(_attr(node, "kernel_shape")[0]) - 1
        elif node.op_type == "MaxPool" and _attr(node, "strides")[0] == 2:
            if _attr(node, "kernel_shape")[0] != 2 or any(_attr(node, "pads") or []):
                return None
            cuts.append(node.output[0])
            shrinks.append(shrink)
            shrink = 0
    shrinks.append(shrink)
    extractor = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model))
    names = [model.graph.input[0].name, *cuts, model.graph.output[0].name]
    return [
        Stage(
            model=extractor.extract_model([a], [b]).SerializeToString(),
            time_axis=1 if i == 0 else 2,
            shrink=shrinks[i],
            pooled=i < len(cuts),
        )
        for i, (a, b) in enumerate(itertools.pairwise(names))
    ]
