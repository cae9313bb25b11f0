"""The lab network three ways: same parameters, same outputs, saves and loads, any length."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from twd_lab.constants import TX, TY
from twd_lab.models import (
    N_PARAMS,
    OUTPUT_LAYERS,
    STYLES,
    any_length,
    build_model,
    compile_model,
    copy_weights,
    load_model,
    model_source,
    norm_layer,
)

pytestmark = pytest.mark.slow


def _x(length=120, batch=2, seed=0):
    return np.random.default_rng(seed).gamma(1.0, 100.0, size=(batch, length, 101)).astype("float32")


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
@pytest.mark.parametrize("style", STYLES)
def test_every_style_and_output_form_has_the_lab_parameter_count(style, output_layer):
    model = build_model(style, output_layer=output_layer)
    assert model.count_params() == N_PARAMS == 523_329
    assert tuple(model.compute_output_shape((1, TX, 101))) == (1, TY, 1)
    assert model.get_layer("norm").count_params() == 0


def test_same_weights_give_the_same_outputs_in_every_style_and_form():
    models = [build_model(s, input_length=None, output_layer=o) for s in STYLES for o in OUTPUT_LAYERS]
    for model in models[1:]:
        copy_weights(models[0], model)
    x = _x()
    outputs = [np.asarray(m(x, training=False)) for m in models]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("style", STYLES)
def test_each_style_saves_and_loads_as_keras(style, tmp_path):
    model = build_model(style, input_length=None, norm_config={"mu0": 3.0, "prior_frames": 50})
    path = tmp_path / f"{style}.keras"
    model.save(path)
    loaded = load_model(path)
    x = _x(64)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-7)
    assert norm_layer(loaded).prior_frames == 50
    assert loaded.count_params() == N_PARAMS


def test_any_length_model_gives_one_step_per_four_frames():
    model = build_model("functional", input_length=None)
    for frames in (15, 16, 200, 1001):
        assert model(_x(frames, batch=1)).shape == (1, (frames - 15) // 4 + 1, 1)


def test_fixed_length_model_matches_the_lab_shapes():
    model = build_model("sequential")
    assert tuple(model.input_shape) == (None, TX, 101)


def test_compile_uses_the_lab_optimizer():
    model = compile_model(build_model("functional", input_length=None))
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.Adam)
    assert float(opt.learning_rate) == pytest.approx(1e-4)
    assert (opt.beta_1, opt.beta_2) == (0.9, 0.999)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="style"):
        build_model("graph")
    with pytest.raises(ValueError, match="output_layer"):
        build_model(output_layer="conv")
    with pytest.raises(FileNotFoundError):
        load_model("does/not/exist.keras")


@pytest.mark.parametrize("style", STYLES)
def test_model_source_reads_like_an_example(style):
    source = model_source(style)
    assert "GRU(128" in source and "Dropout(0.8" in source


def test_the_shipped_model_loads_and_runs_on_any_length():
    from twd_lab.assets_index import bundled_dir

    if not (bundled_dir() / "model.keras").is_file():
        pytest.skip("no shipped model in assets/")
    model = load_model()
    assert model.count_params() == N_PARAMS
    probs = np.asarray(model(_x(400, batch=1), training=False))
    assert probs.shape == (1, (400 - 15) // 4 + 1, 1)
    assert np.all((probs >= 0) & (probs <= 1))
    meta = json.loads((bundled_dir() / "model.json").read_text())
    assert meta["data"]["voices_split"] == "train" and "command" in meta


def test_any_length_keeps_the_weights_and_outputs():
    fixed = build_model("functional", input_length=200, norm_config={"mu0": 1.5})
    free = any_length(fixed)
    x = _x(200)
    np.testing.assert_allclose(
        np.asarray(free(x, training=False)), np.asarray(fixed(x, training=False)), atol=1e-6
    )
    assert free.input_shape == (None, None, 101) and norm_layer(free).mu0[0] == 1.5
