"""The lab's network, written three ways: Sequential, Functional and a subclassed ``keras.Model``.

All three build the same layers with the same names, so they have the same 523,329 parameters and,
given the same weights, compute the same outputs (``copy_weights`` moves weights between them by
layer name)::

    CausalNormalization (no weights; see twd_lab.layers)
    Conv1D(196, 15, strides=4) -> BatchNorm -> ReLU -> Dropout(0.8)
    GRU(128, return_sequences=True) -> Dropout(0.8) -> BatchNorm
    GRU(128, return_sequences=True) -> Dropout(0.8) -> BatchNorm -> Dropout(0.8)
    Dense(1, sigmoid)                       per output step

``Dropout(0.8)`` drops 80% of the units: Keras takes the *rate*, where earlier courses took
``keep_prob``.

The output layer. The lab wraps the last layer in ``TimeDistributed(Dense(1))``. In Keras 3 a plain
``Dense(1)`` already acts on the last axis of a ``(batch, steps, 128)`` tensor, so it computes the same
thing with the same 129 weights; but ``TimeDistributed`` is much slower to train on a CPU and needs
far more memory (see ``benchmarks/bench_training.py``). ``output_layer="dense"`` is the default;
``output_layer="time_distributed"`` keeps the lab's form.

Keras is imported when this module is, so ``import twd_lab`` alone stays light.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import keras
from keras import layers

from twd_lab.constants import N_FREQ, TX, steps_for_frames
from twd_lab.layers import CausalNormalization

STYLES = ("sequential", "functional", "subclassed")
OUTPUT_LAYERS = ("dense", "time_distributed")
#: Parameters of the lab network (the normalisation layer adds none).
N_PARAMS = 523_329


def _output(output_layer: str):
    if output_layer == "dense":
        return layers.Dense(1, activation="sigmoid", name="output")
    if output_layer == "time_distributed":
        return layers.TimeDistributed(layers.Dense(1, activation="sigmoid"), name="output")
    raise ValueError(f"output_layer must be one of {OUTPUT_LAYERS}, got {output_layer!r}")


def _norm(normalize: bool, norm_config: dict | None):
    return CausalNormalization(**(norm_config or {}), name="norm") if normalize else None


# --- 1. Sequential: a plain stack of layers ------------------------------------------------------


def sequential_model(input_shape, norm=None, output=None):
    """The lab network as a ``keras.Sequential`` stack."""
    model = keras.Sequential(name="trigger_word_sequential")
    model.add(keras.Input(shape=input_shape, name="spectrogram"))
    if norm is not None:
        model.add(norm)
    model.add(layers.Conv1D(196, kernel_size=15, strides=4, name="conv"))
    model.add(layers.BatchNormalization(name="bn_conv"))
    model.add(layers.Activation("relu", name="relu"))
    model.add(layers.Dropout(0.8, name="dropout_conv"))
    model.add(layers.GRU(128, return_sequences=True, name="gru_1"))
    model.add(layers.Dropout(0.8, name="dropout_1"))
    model.add(layers.BatchNormalization(name="bn_1"))
    model.add(layers.GRU(128, return_sequences=True, name="gru_2"))
    model.add(layers.Dropout(0.8, name="dropout_2"))
    model.add(layers.BatchNormalization(name="bn_2"))
    model.add(layers.Dropout(0.8, name="dropout_3"))
    model.add(output)
    return model


# --- 2. Functional: tensors in, tensors out (the lab's own style) ---------------------------------


def functional_model(input_shape, norm=None, output=None):
    """The lab network with the Functional API, as the lab writes it."""
    X_input = keras.Input(shape=input_shape, name="spectrogram")
    X = norm(X_input) if norm is not None else X_input

    X = layers.Conv1D(196, kernel_size=15, strides=4, name="conv")(X)
    X = layers.BatchNormalization(name="bn_conv")(X)
    X = layers.Activation("relu", name="relu")(X)
    X = layers.Dropout(0.8, name="dropout_conv")(X)

    X = layers.GRU(128, return_sequences=True, name="gru_1")(X)
    X = layers.Dropout(0.8, name="dropout_1")(X)
    X = layers.BatchNormalization(name="bn_1")(X)

    X = layers.GRU(128, return_sequences=True, name="gru_2")(X)
    X = layers.Dropout(0.8, name="dropout_2")(X)
    X = layers.BatchNormalization(name="bn_2")(X)
    X = layers.Dropout(0.8, name="dropout_3")(X)

    X = output(X)
    return keras.Model(inputs=X_input, outputs=X, name="trigger_word_functional")


# --- 3. Subclassed: layers in __init__, the forward pass in call ---------------------------------


@keras.saving.register_keras_serializable(package="twd_lab")
class TriggerWordModel(keras.Model):
    """The lab network as a subclass of ``keras.Model``."""

    def __init__(self, input_length=TX, output_layer="dense", normalize=True, norm_config=None, **kwargs):
        kwargs.setdefault("name", "trigger_word_subclassed")
        super().__init__(**kwargs)
        self.input_length = input_length
        self.output_layer = output_layer
        self.norm_config = dict(norm_config or {})
        self.norm = _norm(normalize, self.norm_config)

        self.conv = layers.Conv1D(196, kernel_size=15, strides=4, name="conv")
        self.bn_conv = layers.BatchNormalization(name="bn_conv")
        self.relu = layers.Activation("relu", name="relu")
        self.dropout_conv = layers.Dropout(0.8, name="dropout_conv")

        self.gru_1 = layers.GRU(128, return_sequences=True, name="gru_1")
        self.dropout_1 = layers.Dropout(0.8, name="dropout_1")
        self.bn_1 = layers.BatchNormalization(name="bn_1")

        self.gru_2 = layers.GRU(128, return_sequences=True, name="gru_2")
        self.dropout_2 = layers.Dropout(0.8, name="dropout_2")
        self.bn_2 = layers.BatchNormalization(name="bn_2")
        self.dropout_3 = layers.Dropout(0.8, name="dropout_3")

        self.out = _output(output_layer)

    def build(self, input_shape):
        # Trace call() once on a symbolic input, so every layer creates its weights.
        self.call(keras.KerasTensor(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x = self.norm(inputs) if self.norm is not None else inputs

        x = self.conv(x)
        x = self.bn_conv(x, training=training)
        x = self.relu(x)
        x = self.dropout_conv(x, training=training)

        x = self.gru_1(x, training=training)
        x = self.dropout_1(x, training=training)
        x = self.bn_1(x, training=training)

        x = self.gru_2(x, training=training)
        x = self.dropout_2(x, training=training)
        x = self.bn_2(x, training=training)
        x = self.dropout_3(x, training=training)

        return self.out(x)

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        return (input_shape[0], None if frames is None else steps_for_frames(frames), 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_length=self.input_length,
            output_layer=self.output_layer,
            normalize=self.norm is not None,
            norm_config=self.norm.get_config() if self.norm is not None else None,
        )
        return config

    @classmethod
    def from_config(cls, config):
        norm_config = config.pop("norm_config", None)
        if norm_config:
            norm_config = {k: v for k, v in norm_config.items() if k not in ("name", "trainable", "dtype")}
        return cls(norm_config=norm_config, **config)


def subclassed_model(input_shape, norm_config=None, normalize=True, output_layer="dense"):
    """The lab network as a :class:`TriggerWordModel`, built for ``input_shape``."""
    model = TriggerWordModel(
        input_length=input_shape[0], output_layer=output_layer, normalize=normalize, norm_config=norm_config
    )
    model.build((None, *input_shape))
    return model


# --- the one entry point -------------------------------------------------------------------------


def build_model(
    style: str = "functional",
    *,
    input_length: int | None = TX,
    n_freq: int = N_FREQ,
    output_layer: str = "dense",
    normalize: bool = True,
    norm_config: dict | None = None,
) -> keras.Model:
    """Build the lab network in one of the three Keras API styles (not compiled).

    ``style``: ``"sequential"``, ``"functional"`` (default) or ``"subclassed"``.
    ``input_length``: spectrogram frames (5511 for a 10 s clip; ``None`` for any length).
    ``output_layer``: ``"dense"`` (fast, default) or ``"time_distributed"`` (the lab's form).
    ``normalize``: put :class:`~twd_lab.layers.CausalNormalization` first (the lab did not; without
    it the network does not learn from the raw power spectrogram). ``norm_config``: its arguments
    (e.g. ``mu0``, ``sigma0`` from :func:`twd_lab.layers.log_power_prior`).

    >>> model = build_model("sequential")                     # doctest: +SKIP
    >>> model.count_params()                                  # doctest: +SKIP
    523329
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if output_layer not in OUTPUT_LAYERS:
        raise ValueError(f"output_layer must be one of {OUTPUT_LAYERS}, got {output_layer!r}")
    if input_length is not None and int(input_length) < 15:
        raise ValueError(
            f"input_length must be None or at least 15 frames (the conv kernel), got {input_length}"
        )
    input_shape = (None if input_length is None else int(input_length), int(n_freq))
    if norm_config is not None:
        norm_config = {k: v for k, v in norm_config.items() if k not in ("name", "trainable", "dtype")}
    if style == "subclassed":
        return subclassed_model(input_shape, norm_config, normalize, output_layer)
    builder = sequential_model if style == "sequential" else functional_model
    return builder(input_shape, _norm(normalize, norm_config), _output(output_layer))


def compile_model(model: keras.Model, learning_rate: float = 1e-4, **compile_kwargs) -> keras.Model:
    """Compile with the lab's settings: Adam(lr, beta_1=0.9, beta_2=0.999), binary cross-entropy."""
    from twd_lab.validation import finite_number

    if finite_number(learning_rate, "learning_rate") <= 0:
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    compile_kwargs.setdefault("metrics", ["accuracy"])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999),
        loss="binary_crossentropy",
        **compile_kwargs,
    )
    return model


def load_model(path: str | Path | None = None, *, compile: bool = False) -> keras.Model:
    """Load a saved ``.keras`` model; ``None`` loads the shipped model (``assets/model.keras``).

    A file that is not a Keras model, or one whose weights hold NaN or infinity, raises ``ValueError``
    naming the file and the cause (see :func:`load_keras_file`)."""
    if path is None:
        from twd_lab.assets_index import model_path

        path = model_path()  # raises FileNotFoundError with a hint when it is missing
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.suffix != ".keras":
        raise ValueError(f"expected a .keras model file, got {path.name}")
    return load_keras_file(path, compile=compile)


def _cause(err: BaseException) -> str:
    """The first sentence of a (Keras) error, without the object config it may dump after it."""
    text = " ".join(str(err).split("Full object config")[0].split()) or type(err).__name__
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 200 else first[:197] + "..."


def load_keras_file(path: str | Path, *, what: str = "model", compile: bool = False, hint: str = ""):
    """``keras.saving.load_model(path)`` (safe mode), with one-line errors that name the file and the cause:
    not a ``.keras`` zip archive, layers Keras does not know (``hint`` is added: what the file may be
    instead), or NaN/infinite weights (:func:`check_finite_weights`)."""
    import zipfile

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what}: {path} is not a Keras model (a .keras file is a zip archive; this is not)")
    try:
        model = keras.saving.load_model(path, compile=compile)
    except (TypeError, ValueError, KeyError, AttributeError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what}: {path} cannot be loaded as a Keras model: {_cause(err)}{hint}") from None
    check_finite_weights(model, f"{what} {path}")
    return model


def check_finite_weights(model: keras.Model, what: str = "model") -> keras.Model:
    """``model`` if every weight is finite; else ``ValueError``: a model with NaN or infinite weights
    gives NaN probabilities, which fire nothing, so it is never saved or loaded."""
    import numpy as np

    for weight in model.weights:
        if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
            raise ValueError(
                f"{what} has NaN or infinite weights (in {weight.path}): it cannot detect anything; "
                "train it again (a lower learning rate may help)"
            )
    return model


def norm_layer(model: keras.Model) -> CausalNormalization | None:
    """The model's :class:`CausalNormalization` layer (None if it was built without one)."""
    for layer in model.layers:
        if isinstance(layer, CausalNormalization):
            return layer
    return None


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy weights layer by layer, matched by name (works across styles and output forms)."""
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError as err:
            raise ValueError(f"source model has no layer named {layer.name!r}") from err
        layer.set_weights(src.get_weights())
    return target


def any_length(model: keras.Model) -> keras.Model:
    """The same network and weights, built for inputs of any length (``input_length=None``).

    Train on fixed 10 s clips, then ship this form: it runs on long files and on short chunks.
    """
    norm = norm_layer(model)
    output = model.get_layer("output")
    rebuilt = build_model(
        "subclassed" if isinstance(model, TriggerWordModel) else "functional",
        input_length=None,
        n_freq=int(model.get_layer("conv").kernel.shape[1]),
        output_layer="time_distributed" if isinstance(output, layers.TimeDistributed) else "dense",
        normalize=norm is not None,
        norm_config=None if norm is None else norm.get_config(),
    )
    return copy_weights(model, rebuilt)


def model_source(style: str) -> str:
    """The source code of one style's builder, to show beside the others in a lesson."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    obj = {"sequential": sequential_model, "functional": functional_model, "subclassed": TriggerWordModel}[
        style
    ]
    return inspect.getsource(obj)
