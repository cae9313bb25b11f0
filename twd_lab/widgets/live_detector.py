"""LiveDetector: say "activate" into the laptop and watch the detector fire, in the notebook.

The browser captures the microphone (``getUserMedia`` and an ``AudioWorklet``) and sends 16-bit PCM chunks
to the kernel as binary widget messages; the kernel runs them through
:meth:`Detector.stream() <twd_lab.detectors.base.Detector.stream>` (:class:`~twd_lab.widgets.live_session.
LiveSession`) and sends the probabilities back; the browser draws a scrolling spectrogram and probability
trace, flashes and plays the chime where it fires. Firings are appended to the synced ``triggers`` trait.

>>> LiveDetector(autostart=True)     # doctest: +SKIP
"""

from __future__ import annotations

import os

import anywidget
import numpy as np
import traitlets as t

from twd_lab.detectors.base import Detector, FiringRule
from twd_lab.widgets._anywidget import esm, f32_buffer, js_source
from twd_lab.widgets.live_session import LiveSession

__all__ = ["LiveDetector"]

DETECTOR_CHOICES = ("embedding", "lab")


class LiveDetector(anywidget.AnyWidget):
    """Listen to the browser's microphone and fire on "activate".

    ``detector``: ``"embedding"`` (default where it can run), ``"lab"``, or a
    :class:`~twd_lab.detectors.base.Detector`. ``threshold``, ``patience``, ``refractory``: the firing rule
    (default the detector's own; patience and refractory in its steps, ``step_ms`` long). ``autostart``:
    start listening as soon as the browser grants the microphone. ``takes_dir``: where "Keep this take"
    writes WAVs (``take_001.wav``, ...; never over a file); the takes are also kept in :attr:`takes`
    (44.1 kHz float32 arrays, ready for :func:`twd_lab.personalize.personalize` or an AudioPlayer).
    ``gain_db`` is applied to the microphone's samples.

    Synced traits a test or a notebook can read: ``triggers`` (``[{"time_s", "score"}]``, seconds from
    the start of the current take), ``running``, ``message`` (what the widget says, e.g. that the
    microphone was denied), ``mic_error`` (``""``, ``"denied"``, ``"missing"``, ``"insecure"``,
    ``"other"``), ``latency_ms`` (last trigger: audio heard to flash drawn), ``heard_s``, ``n_takes``.
    """

    _esm = esm("live_detector.js")
    _css = js_source("widgets.css")
    _worklet = t.Unicode(js_source("pcm_worklet.js")).tag(sync=True)
    _chime = t.Bytes(b"").tag(sync=True)

    autostart = t.Bool(False).tag(sync=True)
    running = t.Bool(False).tag(sync=True)
    detector_name = t.Unicode("embedding").tag(sync=True)
    detector_options = t.List(t.Unicode()).tag(sync=True)
    threshold = t.Float(0.5).tag(sync=True)
    patience = t.Int(1).tag(sync=True)
    refractory = t.Int(0).tag(sync=True)
    step_ms = t.Float(0.0).tag(sync=True)
    gain_db = t.Float(0.0).tag(sync=True)
    triggers = t.List(t.Dict()).tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    mic_error = t.Unicode("").tag(sync=True)
    latency_ms = t.Float(-1.0).tag(sync=True)
    heard_s = t.Float(0.0).tag(sync=True)
    n_takes = t.Int(0).tag(sync=True)

    def __init__(
        self,
        detector: str | Detector = "auto",
        *,
        threshold: float | None = None,
        patience: int | None = None,
        refractory: int | None = None,
        autostart: bool = False,
        takes_dir: str | os.PathLike | None = "my_takes",
        gain_db: float = 0.0,
    ):
        from twd_lab.detectors.files import embedding_detector_available

        options = [c for c in DETECTOR_CHOICES if c != "embedding" or embedding_detector_available()]
        self._detectors: dict[str, Detector] = {}
        if isinstance(detector, Detector):
            name = detector.kind
            self._detectors[name] = detector
            options = [name] + [o for o in options if o != name]
        elif detector == "auto":
            name = options[0]
        elif detector in DETECTOR_CHOICES:
            name = detector
        else:
            raise ValueError(f"detector must be 'auto', 'embedding', 'lab' or a Detector, got {detector!r}")
        if not np.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of decibels, got {gain_db}")
        super().__init__(autostart=bool(autostart), detector_options=options, gain_db=float(gain_db))
        self.takes_dir = takes_dir
        self.takes: list[np.ndarray] = []
        self.take_paths: list = []
        self.session: LiveSession | None = None
        self._rule_overrides = (threshold, patience, refractory)
        self._seq = -1
        self._chime = _chime_wav()
        self.detector_name = name
        self._use_detector(name, overrides=self._rule_overrides)
        self.on_msg(lambda _w, content, buffers: self.handle_message(content, buffers))

    # ------------------------------------------------------------------ detector and rule
    @property
    def detector(self) -> Detector:
        return self.session.detector

    def _load(self, name: str) -> Detector:
        if name not in self._detectors:
            from twd_lab.detectors.files import load_detector

            self.message = f"loading the {name} detector…"
            detector, _ = load_detector(name)
            detector.warm_up()
            self._detectors[name] = detector
        return self._detectors[name]

    def _use_detector(self, name: str, overrides=(None, None, None)) -> None:
        detector = self._load(name)
        rule = detector.rule.with_overrides(*overrides)
        rate = self.session.sample_rate if self.session is not None else None
        self.session = LiveSession(detector, rule=rule, gain_db=self.gain_db)
        self.session.takes = self.takes
        if rate is not None and self.running:  # switched while listening: the browser's rate goes on
            self.session.start(rate)
        with self.hold_trait_notifications():
            self.threshold, self.patience, self.refractory = rule.threshold, rule.patience, rule.refractory
            self.step_ms = round(1000 * float(detector.step_s), 2)
        self.message = f"{detector.title} ready: press Start and say “activate”"

    @t.observe("detector_name")
    def _detector_changed(self, change) -> None:
        if self.session is not None and change.new != self.session.detector.kind:
            if change.new not in self.detector_options:
                raise ValueError(f"detector_name must be one of {self.detector_options}, got {change.new!r}")
            self._use_detector(change.new)

    @t.observe("threshold", "patience", "refractory")
    def _rule_changed(self, change) -> None:
        if self.session is None:
            return
        rule = FiringRule(float(self.threshold), int(self.patience), int(self.refractory))  # validates
        if rule != self.session.rule:
            self.session.set_rule(rule)

    # ------------------------------------------------------------------ messages from the browser
    def handle_message(self, content: dict, buffers=()) -> None:
        """One message from the browser: ``{"kind": "start", "sample_rate"}``, ``{"kind": "pcm", "seq"}``
        with the PCM chunk as its one buffer, ``{"kind": "stop"}`` or ``{"kind": "keep"}``."""
        kind = content.get("kind")
        try:
            if kind == "start":
                self._start(int(content["sample_rate"]))
            elif kind == "pcm":
                if not buffers:
                    raise ValueError("a pcm message must carry its chunk as a binary buffer")
                self._seq = int(content.get("seq", self._seq + 1))
                self._answer(*self.session.feed_pcm(buffers[0]))
            elif kind == "stop":
                self._answer(*self.session.finish())
                self.running = False
                self.message = f"stopped after {self.session.time_s:.1f} s; {len(self.triggers)} trigger(s)"
            elif kind == "keep":
                self.keep_take()
            else:
                raise ValueError(f"unknown message kind {kind!r}")
        except Exception as exc:  # said in the widget, where the student looks
            self.message = f"error: {exc}"
            self.send({"kind": "error", "text": str(exc)})
            if kind in ("start", "keep"):
                return
            raise

    def _start(self, sample_rate: int) -> None:
        self.session.gain_db = float(self.gain_db)
        self.session.start(sample_rate)
        self._seq = -1
        self.triggers = []
        self.heard_s = 0.0
        self.running = True
        self.message = f"listening ({sample_rate} Hz) with {self.detector.title}: say “activate”"

    def _answer(self, probs: np.ndarray, times: np.ndarray, fired) -> None:
        new = [{"time_s": f.time_s, "score": f.score} for f in fired]
        if new:
            self.triggers = self.triggers + new
        self.heard_s = round(self.session.time_s, 3)
        if probs.size or new:
            self.send(
                {"kind": "probs", "seq": self._seq, "fired": new, "heard_s": self.heard_s},
                [f32_buffer(probs), f32_buffer(times)],
            )

    def keep_take(self) -> np.ndarray:
        """Keep the audio heard in this take (its last minute): appended to :attr:`takes` as a 44.1 kHz
        float32 array and written to ``takes_dir`` as the next free ``take_NNN.wav``. Returns the array."""
        x, path = self.session.keep_take(self.takes_dir)
        self.take_paths.append(path)
        self.n_takes = len(self.takes)
        where = f" as {path}" if path is not None else ""
        self.message = f"kept take {self.n_takes} ({x.size / 44100:.1f} s){where}"
        self.send({"kind": "kept", "n": self.n_takes, "path": str(path) if path else ""})
        return x

    def __repr__(self) -> str:
        return (
            f"LiveDetector({self.detector_name}, threshold={self.threshold:.2f}, "
            f"{len(self.triggers)} trigger(s), {self.n_takes} take(s))"
        )


def _chime_wav() -> bytes:
    """The lab's chime as WAV bytes, sent once so the browser plays the same sound ``chime_on_activate`` adds."""
    from twd_lab.detection import load_chime
    from twd_lab.widgets._common import wav_bytes

    return wav_bytes(load_chime())
