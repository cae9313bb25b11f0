"""DetectionDemo: run the detector on a bundled clip or your own WAV; tune when it fires; hear the chime."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path

import ipywidgets as w
import numpy as np

from twd_lab.constants import PATIENCE, REFRACTORY, SAMPLE_RATE, THRESHOLD
from twd_lab.widgets._common import (
    audio_widget,
    describe_times,
    rule_sliders,
    static_audio_html,
    wav_bytes,
)
from twd_lab.widgets.audio_player import AudioPlayer, load_samples

#: Seeds of the bundled examples: clips synthesized from the held-out voices (never trained on).
EXAMPLE_SEEDS = (1, 2, 3)


def heldout_examples(seeds=EXAMPLE_SEEDS) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """``{name: (samples, y)}``: 10 s clips synthesized from the bundled held-out voices, one per seed."""
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio
    from twd_lab.synthesis import synthesize_example

    acts, negs, bgs = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    examples = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        ex = synthesize_example(bgs[seed % len(bgs)], acts, negs, rng=rng, n_activates=2, n_negatives=2)
        examples[f"held-out voices, seed {seed} (2 activates, 2 other words)"] = (ex.audio, ex.y)
    return examples


def read_uploaded_wav(upload_value) -> tuple[str, np.ndarray]:
    """``(name, samples)`` from a ``FileUpload`` value (ipywidgets 8: a tuple of dicts)."""
    if not upload_value:
        raise ValueError("no file uploaded")
    item = upload_value[0]
    name, content = item["name"], bytes(item["content"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.wav"
        path.write_bytes(content)
        return name, load_samples(path)


#: The detector toggle: the lab network the lessons build, or the speech-embedding detector that
#: ``twd-lab detect`` runs by default (far better on real voices; see the README's table).
DETECTOR_OPTIONS = (("lab network", "lab"), ("speech embedding", "embedding"))


class DetectionDemo(w.VBox):
    """Pick a bundled clip or upload a WAV; move threshold, patience and refractory; see and hear the result.

    ``model``: a Keras model (``None``: the shipped one, loaded on first use). ``probabilities``: a
    function ``samples -> per-step probabilities`` to use instead of a model (tests, or another
    detector). ``examples``: ``{name: (samples, y or None)}`` (default: three clips of held-out voices).

    The probabilities are computed once per clip and detector (:meth:`twd_lab.detectors.Detector.hear`:
    for the lab network what :func:`twd_lab.detection.detect_triggerword` gives) and kept; the
    sliders only re-run the firing rule (:func:`twd_lab.detection.triggers`) and the chime
    (:func:`twd_lab.detection.chime_at`). The browser applies the same rule to the probabilities it
    holds, so a slider's detections are drawn there at once, before the kernel's answer.
    ``.player`` shows the clip, its labels (for bundled clips), probabilities and detections;
    ``.chimed`` plays the clip with a chime at each detection.

    ``.detector`` switches to the speech-embedding detector (one probability every 80 ms, its own
    firing rule; patience and refractory then count its 80 ms steps). An uploaded file is heard as
    ``twd-lab detect`` hears it, with 0.5 s of silence before and 1 s after
    (:func:`twd_lab.detection.pad_edges`), so a recording of the word alone can be detected. While an
    upload is shown the dropdown shows no clip; picking a bundled clip forgets the upload, so that the
    same file can be uploaded again.
    """

    def __init__(
        self,
        model=None,
        *,
        probabilities: Callable[[np.ndarray], np.ndarray] | None = None,
        examples: dict | None = None,
        threshold: float = THRESHOLD,
        patience: int = PATIENCE,
        refractory: int = REFRACTORY,
    ):
        super().__init__()
        self._model = model
        self._probabilities = probabilities
        self._embedding = None
        self._switching = False
        self._lab_rule = (threshold, patience, refractory)
        self.examples = dict(examples) if examples is not None else heldout_examples()
        style = {"description_width": "80px"}
        self.source = w.Dropdown(
            options=list(self.examples), description="clip", style=style, layout=w.Layout(width="520px")
        )
        self.upload = w.FileUpload(accept=".wav", multiple=False, description="upload a WAV")
        self.detector = w.ToggleButtons(
            options=DETECTOR_OPTIONS, value="lab", description="detector", style=style
        )
        self.threshold, self.patience, self.refractory = rule_sliders(
            threshold, patience, refractory, style=style
        )
        self.message = w.HTML()
        self.chimed = audio_widget()
        self.samples = np.zeros(0, np.float32)
        self.labels = None
        self.probs = np.zeros(0, np.float32)
        self.prob_times = np.zeros(0)
        self.triggers: list = []
        self.title: str | None = None
        first = self.examples[self.source.value]
        self.player = AudioPlayer(first[0], title=self.source.value)
        # the firing rule on the stored probabilities runs in the browser too: the sliders are answered
        # there at once; the kernel's answer (.triggers, the chime, the message) follows
        self.player.view.fire_in_browser = True
        for slider, name in (
            (self.threshold, "threshold"),
            (self.patience, "patience"),
            (self.refractory, "refractory"),
        ):
            setattr(self.player.view, name, slider.value)
            w.jslink((slider, "value"), (self.player.view, name))
        self.samples, self._clip_changed = self.player.samples, False  # the player has the first clip
        self._heard: dict = {}  # (detector, clip's digest) -> (probabilities, times): each clip heard once
        self.children = (
            w.HBox([self.source, self.upload]),
            self.detector,
            w.HBox([self.threshold, self.patience, self.refractory]),
            self.message,
            self.player,
            w.HBox([w.HTML("<b>with a chime at each detection:</b>&nbsp;"), self.chimed]),
        )
        self.source.observe(lambda _: self.load_example(), names="value")
        self.upload.observe(lambda _: self._on_upload(), names="value")
        self.detector.observe(lambda _: self._on_detector(), names="value")
        for slider in (self.threshold, self.patience, self.refractory):
            slider.observe(lambda _: self.update_triggers(), names="value")
        self.load_example()

    # -- the model ------------------------------------------------------------------------------

    @property
    def model(self):
        if self._model is None:
            from twd_lab.models import load_model

            self._model = load_model(None)
        return self._model

    @property
    def embedding_detector(self):
        """The shipped speech-embedding detector, loaded on first use."""
        if self._embedding is None:
            from twd_lab.detectors import EmbeddingDetector

            self._embedding = EmbeddingDetector.load()
        return self._embedding

    @property
    def current_detector(self):
        """The chosen :class:`~twd_lab.detectors.Detector` (the toggle's choice)."""
        from twd_lab.detectors.files import as_detector

        return self.embedding_detector if self.detector.value == "embedding" else as_detector(self.model)

    def compute_probabilities(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of the chosen detector for ``samples`` and when each is decided (s)."""
        import hashlib

        from twd_lab.detection import preprocess_audio, step_times_s

        key = (self.detector.value, samples.size, hashlib.blake2b(samples.tobytes(), digest_size=16).digest())
        if key not in self._heard:
            if self._probabilities is not None and self.detector.value == "lab":  # a stand-in for the network
                probs = np.asarray(self._probabilities(samples), np.float32).reshape(-1)
                self._heard[key] = probs, step_times_s(np.arange(probs.size))
            else:
                self._heard[key] = self.current_detector.hear(preprocess_audio(samples))
        return self._heard[key]

    # -- inputs ---------------------------------------------------------------------------------

    def load_example(self) -> None:
        """Run the detector on the clip chosen in ``source``."""
        if self._switching or self.source.value is None:  # None: an upload is shown
            return
        samples, labels = self.examples[self.source.value]
        # Forget the last upload: the browser sends the same file again only as a change of value, so
        # uploading it again after this clip would otherwise do nothing.
        self._set_quietly(self.upload, ())
        self.set_clip(samples, labels=labels, title=self.source.value)

    def _set_quietly(self, control, value) -> None:
        """Set a control without running what observes it."""
        self._switching = True
        try:
            control.value = value
        finally:
            self._switching = False

    def _on_upload(self) -> None:
        if self._switching or not self.upload.value:
            return
        from twd_lab.detection import pad_edges

        try:
            name, samples = read_uploaded_wav(self.upload.value)
        except (ValueError, OSError) as err:
            self.message.value = f"<span style='color:#b00'>could not read the file: {err}</span>"
            return
        self._set_quietly(self.source, None)  # the dropdown shows no bundled clip while the upload is shown
        self.set_clip(
            pad_edges(samples),
            labels=None,
            title=f"your file: {name} (with 0.5 s of silence before it and 1 s after it)",
        )

    def _on_detector(self) -> None:
        # each detector has its own firing rule, in its own steps
        if self._switching:
            return
        if self.detector.value == "embedding":
            try:
                r = self.embedding_detector.rule
                rule = (r.threshold, r.patience, r.refractory)
            except (FileNotFoundError, ImportError) as err:
                self._switching = True  # back to the lab network, which is still shown
                self.detector.value = "lab"
                self._switching = False
                self.message.value = f"<span style='color:#b00'>{err}</span>"
                return
        else:
            rule = self._lab_rule
        self._switching = True  # the sliders move to the new rule without re-running the old detector
        try:
            for slider, value in zip((self.threshold, self.patience, self.refractory), rule):
                slider.value = value
        finally:
            self._switching = False
        self.set_clip(self.samples, labels=self.labels, title=self.title)

    def set_clip(self, samples, *, labels=None, title: str | None = None) -> None:
        """Run the detector on ``samples`` (float, 44.1 kHz) and show the result."""
        new = load_samples(samples)
        self._clip_changed |= new.shape != self.samples.shape or not np.array_equal(new, self.samples)
        self.samples = new
        self.labels = None if labels is None else np.asarray(labels, np.float32).reshape(-1)
        self.title = title
        try:
            self.probs, self.prob_times = self.compute_probabilities(self.samples)
        except (FileNotFoundError, ImportError, ValueError) as err:
            self.probs, self.prob_times = np.zeros(0, np.float32), np.zeros(0)
            self.message.value = f"<span style='color:#b00'>{err}</span>"
        self.update_triggers()

    # -- the firing rule and the chime ----------------------------------------------------------

    def update_triggers(self) -> None:
        """Apply threshold, patience and refractory to the current probabilities; redraw; re-chime."""
        from twd_lab.detectors import FiringRule

        if self._switching:
            return
        clip = self.samples if self._clip_changed else None  # the browser has the clip: send it once
        self._clip_changed = False
        self.player.title = self.title
        if self.probs.size == 0:
            self.triggers = []
            self.player.update(clip, labels=self.labels)
            self.chimed.value = wav_bytes(self.samples, SAMPLE_RATE)
            return
        rule = FiringRule(float(self.threshold.value), int(self.patience.value), int(self.refractory.value))
        self.triggers = rule.fire(self.probs, self.prob_times)
        self.player.update(
            clip,
            labels=self.labels,
            probs=self.probs,
            triggers=self.triggers,
            threshold=float(self.threshold.value),
            prob_times=self.prob_times,
        )
        self.chimed.value = wav_bytes(self.chime(), SAMPLE_RATE)
        times = describe_times(t.time_s for t in self.triggers)
        step = (
            f"{1000 * float(np.median(np.diff(self.prob_times))):.3g} ms" if self.probs.size > 1 else "steps"
        )
        self.message.value = (
            f"{len(self.triggers)} detection(s): {times} "
            f"(threshold {self.threshold.value:.2f}, patience {self.patience.value}, "
            f"refractory {self.refractory.value} steps of {step})"
        )

    def chime(self) -> np.ndarray:
        """The clip with the bundled chime added at each detection (:func:`twd_lab.detection.chime_at`)."""
        from twd_lab.detection import chime_at

        return chime_at(self.samples, self.triggers)

    def _repr_mimebundle_(self, **kwargs):
        # The player's picture as a static copy, for exported notebooks and notebooks opened without a kernel.
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.player.png:
            data["image/png"] = base64.b64encode(self.player.png).decode("ascii")
            audio = static_audio_html(
                [("the clip", self.player.audio), ("with a chime at each detection", self.chimed)]
            )
            if audio:  # a handout: the picture and both players
                data["text/html"] = f'<img src="data:image/png;base64,{data["image/png"]}">{audio}'
        return data

    def __repr__(self) -> str:
        return f"DetectionDemo({self.title!r}, {len(self.triggers)} detection(s))"
