"""The speech-embedding detector's head in plain NumPy, so ``twd-lab detect`` starts without TensorFlow.

The head (:func:`twd_lab.embedding_detector.build_head`, averaged over seeds by ``average_heads``) is a
few Dense, LayerNormalization and ReLU layers: a forward pass is three matrix products. Importing
TensorFlow to run them took ~4 of the ~5 s that ``twd-lab detect`` needed for one short file. So
:meth:`EmbeddingDetector.save <twd_lab.detectors.embedding.EmbeddingDetector.save>` also writes the
weights as ``<name>.npz`` (:func:`write_numpy_head`), and :meth:`NumpyHead.load` runs them, giving the
Keras head's probabilities to float rounding (~1e-7, tested).

The ``.npz`` records the SHA-1 of the ``.keras`` file it was made from; if the ``.keras`` file changes
(a head retrained and saved with Keras directly), the ``.npz`` no longer matches and is not used.
Only the layers ``build_head`` makes are supported; any other head runs in Keras.
"""

from __future__ import annotations

import functools
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

#: Dense activations the NumPy pass knows.
_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "sigmoid": lambda x: np.float32(1) / (np.float32(1) + np.exp(-x)),
}


def file_sha1(path: str | Path) -> str:
    """SHA-1 of a file's bytes (hex); read once per version of the file (its size and mtime), since the
    CLI asks whether a head needs Keras before it loads it."""
    st = Path(path).stat()
    return _sha1(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha1(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def numpy_path(keras_path: str | Path) -> Path:
    """Where the NumPy weights of ``keras_path`` live: the same name with ``.npz``."""
    return Path(keras_path).with_suffix(".npz")


def _members(model) -> list:
    """The heads a model averages (``average_heads``), or the model itself when it is one head."""
    subs = [layer for layer in model.layers if hasattr(layer, "layers")]
    if not subs:
        return [model]
    others = {type(layer).__name__ for layer in model.layers if not hasattr(layer, "layers")}
    if not others <= {"InputLayer", "Average"}:
        raise ValueError(f"only an average of heads is supported, got layers {sorted(others)}")
    return subs


def _plan(member) -> list[dict]:
    """A head's layers as NumPy operations (Dropout and InputLayer do nothing at inference)."""
    ops = []
    for layer in member.layers:
        kind, cfg = type(layer).__name__, layer.get_config()
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind == "Flatten":
            ops.append({"op": "flatten"})
        elif kind == "Dense":
            if cfg["activation"] not in _ACTIVATIONS or not cfg.get("use_bias", True):
                raise ValueError(f"unsupported Dense layer {layer.name}: {cfg['activation']}")
            w, b = layer.get_weights()
            ops.append({"op": "dense", "activation": cfg["activation"], "w": w, "b": b})
        elif kind == "LayerNormalization":
            if list(cfg["axis"]) != [-1] or not (cfg["center"] and cfg["scale"]):
                raise ValueError(f"unsupported LayerNormalization {layer.name}")
            gamma, beta = layer.get_weights()
            ops.append({"op": "layernorm", "epsilon": float(cfg["epsilon"]), "gamma": gamma, "beta": beta})
        elif kind == "ReLU":
            if cfg.get("max_value") is not None or cfg.get("negative_slope") or cfg.get("threshold"):
                raise ValueError(f"unsupported ReLU {layer.name}")
            ops.append({"op": "relu"})
        else:
            raise ValueError(f"unsupported layer {layer.name} ({kind})")
    return ops


def write_numpy_head(model, keras_path: str | Path) -> Path:
    """Write the weights of ``model`` (a Keras head, as saved at ``keras_path``) beside it as ``.npz``."""
    arrays, plans = {}, []
    for m, member in enumerate(_members(model)):
        plan = []
        for k, op in enumerate(_plan(member)):
            entry = {}
            for key, value in op.items():
                if isinstance(value, np.ndarray):
                    name = f"m{m}_{k}_{key}"
                    arrays[name] = value.astype(np.float32)
                    entry[key] = name
                else:
                    entry[key] = value
            plan.append(entry)
        plans.append(plan)
    out = numpy_path(keras_path)
    meta = {
        "plans": plans,
        "keras_sha1": file_sha1(keras_path),
        "input_shape": list(model.inputs[0].shape[1:]),
    }
    np.savez(out, __meta__=np.array(json.dumps(meta)), **arrays)
    return out


def matches_keras_file(keras_path: str | Path) -> bool:
    """Whether the ``.npz`` beside ``keras_path`` exists and was made from this very ``.keras`` file."""
    path = numpy_path(keras_path)
    if not path.is_file() or not Path(keras_path).is_file():
        return False
    try:
        with np.load(path) as f:
            meta = json.loads(str(f["__meta__"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # not one we wrote: the .keras file is used
        return False
    return isinstance(meta, dict) and meta.get("keras_sha1") == file_sha1(keras_path)


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray)


class NumpyHead:
    """A head's forward pass in NumPy: ``head(X)`` gives probabilities ``(N,)`` of windows ``X (N, history, 96)``."""

    def __init__(self, plans: list[list[dict]], input_shape: tuple[int, ...]):
        self.plans = plans
        self.input_shape = tuple(input_shape)

    @classmethod
    def load(cls, keras_path: str | Path) -> NumpyHead | None:
        """The NumPy weights saved beside ``keras_path``, or None when there are none or they were made
        from another version of the ``.keras`` file."""
        if not matches_keras_file(keras_path):
            return None
        with np.load(numpy_path(keras_path)) as f:
            meta = json.loads(str(f["__meta__"]))
            plans = [
                [{k: (f[v] if k in ("w", "b", "gamma", "beta") else v) for k, v in op.items()} for op in plan]
                for plan in meta["plans"]
            ]
        if not all(
            np.isfinite(v).all() for plan in plans for op in plan for v in op.values() if _is_array(v)
        ):
            raise ValueError(f"head: {numpy_path(keras_path)} has NaN or infinite weights; it cannot be used")
        return cls(plans, meta["input_shape"])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape:
            raise ValueError(
                f"windows must have shape (N, {', '.join(map(str, self.input_shape))}), got {X.shape}"
            )
        total = np.zeros(len(X), np.float32)
        for plan in self.plans:
            x = X
            for op in plan:
                if op["op"] == "flatten":
                    x = x.reshape(len(x), int(np.prod(x.shape[1:])))
                elif op["op"] == "dense":
                    x = _ACTIVATIONS[op["activation"]](x @ op["w"] + op["b"])
                elif op["op"] == "layernorm":
                    mean = x.mean(axis=-1, keepdims=True)
                    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
                    x = (x - mean) / np.sqrt(var + np.float32(op["epsilon"])) * op["gamma"] + op["beta"]
                elif op["op"] == "relu":
                    x = np.maximum(x, np.float32(0))
            total += x.reshape(-1)
        return total / np.float32(len(self.plans))
