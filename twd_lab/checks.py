"""Graders for the lessons' exercises: run cases, say which one failed and what was expected.

Each ``check_*`` function takes the learner's function (or model), runs it on a handful of small cases
chosen to catch the usual mistakes, prints one line per failure (the case, what was expected, what
came) or one line saying that everything passed, and returns a :class:`CheckResult` (truthy when all
cases pass). Nothing compares a hard-coded norm of a random array: random functions are checked for
the properties they must have (ranges, lengths, reproducibility with a seed).

One module for every lesson's graders (hence its length): each grader reads on its own, next to the
cases it runs, which is what a learner opening it from a failed check wants to see.

>>> from twd_lab.synthesis import is_overlapping            # doctest: +SKIP
>>> check_is_overlapping(is_overlapping)                     # doctest: +SKIP
check_is_overlapping: all 8 cases passed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twd_lab.constants import CLIP_MS, CONV_KERNEL, CONV_STRIDE, LABEL_RUN, N_FREQ, TX, TY

__all__ = [
    "CheckResult",
    "check_count_detections",
    "check_create_training_example",
    "check_fire_steps",
    "check_get_random_time_segment",
    "check_insert_audio_clip",
    "check_insert_ones",
    "check_is_overlapping",
    "check_model",
]


@dataclass
class CheckResult:
    """What a check found: its name, how many cases ran, and one message per failed case."""

    name: str
    n_cases: int = 0
    failures: list[str] = field(default_factory=list)
    printed: bool = field(default=False, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    def report(self) -> str:
        if self.passed:
            return f"{self.name}: all {self.n_cases} cases passed."
        lines = [f"{self.name}: {len(self.failures)} of {self.n_cases} cases failed."]
        lines += [f"  - {msg}" for msg in self.failures]
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"{len(self.failures)} failed"
        return f"CheckResult({self.name!r}, {self.n_cases} cases, {state})"

    def _ipython_display_(self) -> None:
        # A check prints its report as it finishes; as a cell's last value it shows nothing more
        # (or the report, if it was run quietly).
        if not self.printed:
            print(self.report())
            self.printed = True


class _Runner:
    """Collects cases; a case is a description and a thunk that returns None (ok) or a message."""

    def __init__(self, name: str):
        self.result = CheckResult(name)

    def case(self, description: str, thunk: Callable[[], str | None]) -> bool:
        self.result.n_cases += 1
        try:
            problem = thunk()
        except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything; report it
            problem = f"raised {type(exc).__name__}: {exc}" + _explain(exc)
        if problem:
            self.result.failures.append(f"case {self.result.n_cases} ({description}): {problem}")
            return False
        return True

    def finish(self, verbose: bool) -> CheckResult:
        if verbose:
            print(self.result.report())
            self.result.printed = True
        return self.result


#: Keras's complaint when a layer that needs a sequence gets one vector per clip.
_NDIM = re.compile(
    r"layer '(?P<layer>[^']+)' is incompatible with the layer: expected ndim=3, found ndim=2\."
    r"(?: Full shape received: (?P<shape>\([^)]*\)))?"
)


def _explain(exc: Exception) -> str:
    """What a learner's exception usually means, in the lesson's words ("" when there is nothing to add)."""
    text = str(exc)
    ndim = _NDIM.search(text)
    if ndim:
        shape = ndim.group("shape") or "(batch, features)"
        return (
            f" -- in words: layer '{ndim.group('layer')}' needs a sequence, (batch, steps, features), but "
            f"received one vector per clip, {shape}. A GRU before it returned only its last step: give "
            "every GRU return_sequences=True, so that each of the 1,375 steps has an output."
        )
    if "NoneType" in text or "'None'" in text or "=None" in text:
        return " (is something still None? fill in the code between the markers)"
    return ""


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature: assume yes
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _no_rng_message(fn: Callable) -> str:
    name = getattr(fn, "__name__", "your function")
    return (
        f"{name} does not accept rng=; add an `rng` argument and draw every random number from it "
        "(np.random.default_rng(rng)), so that a seed gives the same result every time."
    )


# --------------------------------------------------------------------------------- is_overlapping


def check_is_overlapping(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``is_overlapping(segment_time, previous_segments) -> bool``.

    Segments are ``(start_ms, end_ms)`` with both ends included, so touching segments overlap.
    """
    run = _Runner("check_is_overlapping")
    cases = [
        ("no previous segments", (950, 1430), [], False),
        ("well before and after the previous ones", (950, 1430), [(2000, 2550), (260, 949)], False),
        (
            "partly overlapping the start of one",
            (2305, 2950),
            [(824, 1532), (1900, 2305), (3424, 3656)],
            True,
        ),
        ("inside a longer one", (3000, 3500), [(2500, 4000)], True),
        ("containing a shorter one", (2000, 5000), [(3000, 3100)], True),
        ("touching: starts where the previous ends (ends are included)", (1000, 2000), [(0, 1000)], True),
        ("touching: ends where the previous starts", (1000, 2000), [(2000, 2500)], True),
        (
            "only the LAST previous segment overlaps (don't return after the first)",
            (5000, 6000),
            [(0, 100), (200, 300), (5500, 7000)],
            True,
        ),
    ]
    for description, segment, previous, expected in cases:

        def thunk(segment=segment, previous=previous, expected=expected):
            prev_copy = list(previous)
            got = fn(segment, prev_copy)
            if prev_copy != list(previous):
                return "is_overlapping must not change previous_segments"
            if not isinstance(got, (bool, np.bool_)):
                return f"expected a bool, got {type(got).__name__} {got!r}"
            if bool(got) != expected:
                return f"is_overlapping({segment}, {previous}): expected {expected}, got {bool(got)}"
            return None

        run.case(description, thunk)
    return run.finish(verbose)


# ------------------------------------------------------------------------- get_random_time_segment


def check_get_random_time_segment(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``get_random_time_segment(segment_ms, rng=None) -> (start_ms, end_ms)``.

    The segment must fit in the 10 s clip, last exactly ``segment_ms`` ms (``end = start + segment_ms -
    1``), vary from draw to draw, and repeat with the same seed.
    """
    run = _Runner("check_get_random_time_segment")
    if not _accepts(fn, "rng"):
        run.case("takes rng=", lambda: _no_rng_message(fn))
        return run.finish(verbose)

    def draws(segment_ms, seed, n):
        rng = np.random.default_rng(seed)
        return [fn(segment_ms, rng=rng) for _ in range(n)]

    def shape_and_bounds(segment_ms):
        def thunk():
            for seg in draws(segment_ms, 1, 200):
                if not (isinstance(seg, tuple) and len(seg) == 2):
                    return f"expected a tuple (segment_start, segment_end), got {seg!r}"
                start, end = (int(v) for v in seg)
                if start < 0 or end > CLIP_MS - 1:
                    return f"segment {seg} for {segment_ms} ms leaves the clip [0, {CLIP_MS - 1}] ms"
                if end - start != segment_ms - 1:
                    return (
                        f"segment {seg} for a {segment_ms} ms clip: expected segment_end = segment_start + "
                        f"segment_ms - 1 = {start + segment_ms - 1}, got {end}"
                    )
            return None

        return thunk

    for ms in (1, 500, 2345, 9000):
        run.case(
            f"{ms} ms clip: a (start, end) tuple inside the clip with end - start = {ms - 1}",
            shape_and_bounds(ms),
        )

    def varies():
        starts = {int(seg[0]) for seg in draws(500, 2, 50)}
        return (
            None if len(starts) > 10 else f"50 draws gave only {len(starts)} different starts; is it random?"
        )

    def spreads():
        starts = [int(seg[0]) for seg in draws(500, 3, 400)]
        lo, hi = min(starts), max(starts)
        if lo > 500 or hi < CLIP_MS - 500 - 500:
            return f"400 starts for a 500 ms clip span only [{lo}, {hi}] ms; expected nearly all of [0, 9499]"
        return None

    def reproducible():
        a, b = draws(700, 42, 5), draws(700, 42, 5)
        norm = [tuple(int(v) for v in s) for s in a], [tuple(int(v) for v in s) for s in b]
        return (
            None
            if norm[0] == norm[1]
            else f"the same seed gave {norm[0]} then {norm[1]}; use rng, not np.random"
        )

    run.case("draws differ from one another", varies)
    run.case("starts spread over the whole clip", spreads)
    run.case("the same seed gives the same segments", reproducible)
    return run.finish(verbose)


# ---------------------------------------------------------------------------------------- insert_ones


def _expected_ones(ends_ms: Iterable[float]) -> np.ndarray:
    y = np.zeros(TY, dtype=np.float32)
    for end_ms in ends_ms:
        e = int(end_ms * TY / CLIP_MS)
        y[e + 1 : min(e + 1 + LABEL_RUN, TY)] = 1
    return y


def _runs_of_ones(v: np.ndarray) -> str:
    """``"688..737 and 962..1011"``: each run of ones in ``v`` as first..last step."""
    edges = np.flatnonzero(np.diff(np.r_[0, (np.asarray(v) == 1).astype(np.int8), 0]))
    runs = [f"{a}..{b - 1}" for a, b in zip(edges[::2], edges[1::2])]
    return ", ".join(runs[:-1]) + " and " + runs[-1] if len(runs) > 1 else "".join(runs)


def _describe_diff(expected: np.ndarray, got: np.ndarray) -> str:
    wrong = np.flatnonzero(expected != got)
    first = int(wrong[0])
    where = (
        f"ones expected at steps {_runs_of_ones(expected)}" if np.any(expected == 1) else "no ones expected"
    )
    n_got = int(np.count_nonzero(got == 1))
    got_where = (
        f"got ones at {_runs_of_ones(got)} ({n_got} step{'s' * (n_got != 1)})" if n_got else "got none"
    )
    return (
        f"{where}, {got_where}; first wrong step {first} (expected {expected[first]:g}, got {got[first]:g})"
    )


def check_insert_ones(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``insert_ones(y, segment_end_ms) -> y``.

    ``y`` has shape ``(1, Ty)``; the ``LABEL_RUN`` (50) steps *after* ``int(segment_end_ms * Ty / 10000)``
    become 1, clipped at the end of ``y``; existing ones stay.
    """
    run = _Runner("check_insert_ones")

    def single(end_ms):
        def thunk():
            y = np.zeros((1, TY), dtype=np.float32)
            got = fn(y, end_ms)
            if got is None:
                return "returned None; return the updated y"
            got = np.asarray(got)
            if got.shape != (1, TY):
                return f"expected y of shape (1, {TY}), got {got.shape}"
            expected = _expected_ones([end_ms])
            if not np.array_equal(got[0], expected):
                e = int(end_ms * TY / CLIP_MS)
                return (
                    f"segment_end_ms={end_ms} -> end step int({end_ms} * {TY} / {CLIP_MS}) = {e}: "
                    + _describe_diff(expected, got[0])
                )
            return None

        return thunk

    run.case("a word ending at 0 ms: ones at steps 1..50", single(0))
    run.case("a word ending at 5000 ms: ones right after step 687", single(5000))
    run.case("end at 4321 ms: the step is int(ms * Ty / 10000), not rounded", single(4321))
    run.case("near the end (9700 ms): the run is cut at Ty, no IndexError", single(9700))
    run.case("at the very end (9999 ms): nothing to set, no error", single(9999))

    def keeps_existing():
        y = np.zeros((1, TY), dtype=np.float32)
        y = fn(y, 1000)
        y = fn(np.asarray(y), 7000)
        expected = _expected_ones([1000, 7000])
        got = np.asarray(y)[0]
        return None if np.array_equal(got, expected) else "two words: " + _describe_diff(expected, got)

    run.case("two words: the ones of the first stay", keeps_existing)
    return run.finish(verbose)


# ------------------------------------------------------------------------------- insert_audio_clip


def _segment_ms(clip: Any) -> int:
    """Length in ms of a pydub segment (``len``) or float samples at 44.1 kHz."""
    if hasattr(clip, "frame_rate"):
        return len(clip)
    from twd_lab.constants import SAMPLE_RATE

    return round(len(clip) * 1000 / SAMPLE_RATE)


def check_insert_audio_clip(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``insert_audio_clip(background, audio_clip, previous_segments, rng=None) -> (new_background, segment_time)``.

    Works with the forms the lesson uses (float arrays at 44.1 kHz or pydub segments, detected from what
    the learner's function returns for a test background). Checks: the segment has the clip's length,
    does not overlap the previous segments, is appended to ``previous_segments``, the clip's sound is
    where the segment says, and a seed gives the same segment.
    """
    from twd_lab.constants import SAMPLE_RATE

    run = _Runner("check_insert_audio_clip")
    if not _accepts(fn, "rng"):
        run.case("takes rng=", lambda: _no_rng_message(fn))
        return run.finish(verbose)

    clip_ms = 400
    n_clip = clip_ms * SAMPLE_RATE // 1000
    t = np.arange(n_clip) / SAMPLE_RATE
    clip = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    background = np.zeros(CLIP_MS * SAMPLE_RATE // 1000, dtype=np.float32)

    def call(previous, seed):
        prev = list(previous)
        out = fn(background.copy(), clip, prev, rng=np.random.default_rng(seed))
        if not (isinstance(out, tuple) and len(out) == 2):
            raise AssertionError(f"expected (new_background, segment_time), got {type(out).__name__}")
        return out[0], tuple(int(v) for v in out[1]), prev

    def length_and_append():
        previous = [(0, 2000)]
        _, seg, prev = call(previous, 0)
        if seg[1] - seg[0] != clip_ms - 1:
            return f"a {clip_ms} ms clip gave segment {seg}; expected end - start = {clip_ms - 1}"
        if prev != previous + [seg]:
            return f"previous_segments should become {previous + [seg]}, got {prev}"
        return None

    def no_overlap():
        previous = [(0, 4000), (4500, 9500)]  # free: 4001..4499 and 9501..9999
        for seed in range(20):
            _, seg, _ = call(previous, seed)
            s, e = seg
            if any(s <= pe and e >= ps for ps, pe in previous):
                return f"seed {seed}: segment {seg} overlaps previous segments {previous}"
        return None

    def sound_in_place():
        new_bg, seg, _ = call([], 5)
        x = (
            np.asarray(new_bg.get_array_of_samples(), np.float32) / 32768
            if hasattr(new_bg, "frame_rate")
            else np.asarray(new_bg, np.float32)
        )
        start = seg[0] * SAMPLE_RATE // 1000
        inside = np.abs(x[start : start + n_clip]).mean()
        outside = np.abs(np.concatenate([x[: max(start - 100, 0)], x[start + n_clip + 100 :]])).mean()
        if inside < 0.1 or outside > 0.01:
            return (
                f"the clip should sound at {seg[0]} ms and nowhere else on a silent background; "
                f"mean |x| inside {inside:.3f}, outside {outside:.3f}"
            )
        return None

    def reproducible():
        a, b = call([(1000, 1500)], 9)[1], call([(1000, 1500)], 9)[1]
        return None if a == b else f"the same seed gave segments {a} then {b}"

    run.case("segment length and previous_segments updated", length_and_append)
    run.case("never overlaps the previous segments (20 seeds, little free room)", no_overlap)
    run.case("the clip is overlaid at segment_time[0]", sound_in_place)
    run.case("the same seed gives the same segment", reproducible)
    return run.finish(verbose)


# -------------------------------------------------------------------------- create_training_example


def check_create_training_example(
    fn: Callable, background=None, activates=None, negatives=None, *, verbose: bool = True
) -> CheckResult:
    """Grade ``create_training_example(background, activates, negatives, rng=None) -> (x, y)``.

    Checks shapes ``x: (101, 5511)`` and ``y: (1, 1375)``, that ``y`` holds whole runs of ones (one per
    activate, at most 4, none when there are no activates), that a seed reproduces the example, and that
    different seeds give different examples. ``background``/``activates``/``negatives`` default to the
    bundled clips (arrays).
    """
    run = _Runner("check_create_training_example")
    if not _accepts(fn, "rng"):
        run.case("takes rng=", lambda: _no_rng_message(fn))
        return run.finish(verbose)
    if background is None or activates is None or negatives is None:
        from twd_lab.audio import load_raw_audio

        acts, negs, bgs = load_raw_audio(as_arrays=True)
        background = bgs[0] if background is None else background
        activates = acts if activates is None else activates
        negatives = negs if negatives is None else negatives

    outputs: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}

    def make(seed, acts=None):
        if (seed, acts is None) not in outputs:
            out = fn(background, activates if acts is None else acts, negatives, rng=seed)
            if not (isinstance(out, tuple) and len(out) >= 2):
                raise AssertionError(f"expected (x, y), got {type(out).__name__}")
            outputs[(seed, acts is None)] = (np.asarray(out[0]), np.asarray(out[1]))
        return outputs[(seed, acts is None)]

    def shapes():
        x, y = make(0)
        if x.shape != (N_FREQ, TX):
            return f"x: expected the spectrogram of shape ({N_FREQ}, {TX}), got {x.shape}"
        if y.shape != (1, TY):
            return f"y: expected shape (1, {TY}), got {y.shape}"
        return None

    def runs_of_ones():
        for seed in range(6):
            _, y = make(seed)
            v = np.asarray(y).reshape(-1)
            if not np.all((v == 0) | (v == 1)):
                return f"seed {seed}: y must hold only 0 and 1"
            edges = np.flatnonzero(np.diff(np.concatenate([[0], v, [0]])))
            lengths = edges[1::2] - edges[0::2]
            if len(lengths) > 4:
                return f"seed {seed}: {len(lengths)} runs of ones; at most 4 activates per clip"
            if any(n != LABEL_RUN for n in lengths[:-1]) or (len(lengths) and lengths[-1] > LABEL_RUN):
                return f"seed {seed}: runs of ones of lengths {list(lengths)}; each should be {LABEL_RUN}"
        return None

    def some_activates():
        counts = []
        for seed in range(12):
            v = make(seed)[1].reshape(-1)
            counts.append(int(np.count_nonzero(np.diff(np.concatenate([[0], v])) == 1)))
        if max(counts) == 0:
            return "12 seeds gave no activate at all; draw 0-4 activates per clip"
        return None

    def none_without_activates():
        try:
            _, y = make(3, acts=[])
        except ValueError:  # refusing an empty list of activates is fine too
            return None
        return None if not np.any(y) else "with no activate clips y must be all zeros (negatives get no ones)"

    def reproducible():
        x1, y1 = fn(background, activates, negatives, rng=7)[:2]
        x2, y2 = fn(background, activates, negatives, rng=7)[:2]
        if not (np.array_equal(np.asarray(y1), np.asarray(y2)) and np.allclose(x1, x2)):
            return "the same seed gave different examples; draw every random number from rng"
        return None

    def varies():
        xs = [make(seed)[0] for seed in range(3)]
        if np.allclose(xs[0], xs[1]) and np.allclose(xs[1], xs[2]):
            return "seeds 0, 1 and 2 gave the same x"
        return None

    run.case(f"x is ({N_FREQ}, {TX}) and y is (1, {TY})", shapes)
    run.case("y is made of whole runs of 50 ones, at most 4", runs_of_ones)
    run.case("some seeds insert activates", some_activates)
    run.case("no activates given -> y all zeros (or a ValueError)", none_without_activates)
    run.case("the same seed gives the same example", reproducible)
    run.case("different seeds give different examples", varies)
    return run.finish(verbose)


# --------------------------------------------------------------------------------------------- model

#: The lab network, layer by layer (normalisation and input layers aside): (type, key config).
MODEL_SPEC: list[tuple[str, dict]] = [
    ("Conv1D", {"filters": 196, "kernel_size": (CONV_KERNEL,), "strides": (CONV_STRIDE,)}),
    ("BatchNormalization", {}),
    ("Activation", {"activation": "relu"}),
    ("Dropout", {"rate": 0.8}),
    ("GRU", {"units": 128, "return_sequences": True}),
    ("Dropout", {"rate": 0.8}),
    ("BatchNormalization", {}),
    ("GRU", {"units": 128, "return_sequences": True}),
    ("Dropout", {"rate": 0.8}),
    ("BatchNormalization", {}),
    ("Dropout", {"rate": 0.8}),
    ("Dense", {"units": 1, "activation": "sigmoid"}),
]
#: Parameters of the lab network (the normalisation layer has none).
MODEL_PARAMS = 523_329

_SKIPPED_LAYERS = ("InputLayer", "CausalNormalization")


def _layer_config(layer) -> tuple[str, dict]:
    kind = type(layer).__name__
    cfg = layer.get_config()
    if kind == "TimeDistributed":  # the lab's form: same maths as Dense(1) on the last axis
        inner = layer.layer
        kind, cfg = type(inner).__name__, inner.get_config()
    if kind == "ReLU":
        kind, cfg = "Activation", {"activation": "relu"}
    norm = {}
    for key, value in cfg.items():
        if key in ("kernel_size", "strides") and isinstance(value, int):
            value = (value,)
        if isinstance(value, list):
            value = tuple(value)
        norm[key] = value
    return kind, norm


def _fmt(kind: str, cfg: dict) -> str:
    return f"{kind}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


def _align(kinds: list[str]) -> tuple[list[tuple[int, int]], tuple[int, str, str] | None]:
    """Line the learner's layer kinds up with :data:`MODEL_SPEC`'s.

    Returns ``(pairs, difference)``: ``pairs`` of (spec index, learner index) whose kinds agree, and the
    first difference as ``(spec index, short note, message)``, or ``None`` when the kinds agree throughout.
    A missing or an extra layer shifts the rest by one place, so the layers after it are still paired.
    """
    want = [kind for kind, _ in MODEL_SPEC]
    first = next((i for i, (a, b) in enumerate(zip(want, kinds)) if a != b), min(len(want), len(kinds)))
    pairs = [(i, i) for i in range(first)]
    if first == len(want) == len(kinds):
        return pairs, None
    before = f"after the {want[first - 1]}" if first else "first"
    if kinds[first:] == want[first + 1 :]:  # one missing
        pairs += [(i + 1, i) for i in range(first, len(kinds))]
        return pairs, (
            first,
            f"layer {first + 1}, {want[first]}, is missing",
            (
                f"missing: expected {_fmt(*MODEL_SPEC[first])} here, {before}. The first difference; the layers "
                "after it are one place early because of it (they are compared with the ones they should be)"
            ),
        )
    if kinds[first + 1 :] == want[first:]:  # one extra
        pairs += [(i, i + 1) for i in range(first, len(want))]
        return pairs, (
            first,
            f"an extra {kinds[first]} at layer {first + 1}",
            (
                f"an extra {kinds[first]} layer here, {before}, which the lab network does not have. The first "
                "difference; the layers after it are one place late because of it"
            ),
        )
    if first < min(len(want), len(kinds)) and kinds[first + 1 :] == want[first + 1 :]:  # one of another kind
        pairs += [(i, i) for i in range(first + 1, len(want))]
        return pairs, (
            first,
            f"layer {first + 1} is a {kinds[first]}",
            (f"expected {_fmt(*MODEL_SPEC[first])}, got a {kinds[first]} layer"),
        )
    got = ", ".join(kinds[first:]) or "nothing"
    return pairs, (
        first,
        f"they differ from layer {first + 1} on",
        (
            f"expected {_fmt(*MODEL_SPEC[first]) if first < len(want) else 'no more layers'}, "
            f"got {kinds[first] if first < len(kinds) else 'no layer'}. "
            f"The first difference; from here on the layers are {got}, where the lab network has "
            f"{', '.join(want[first:]) or 'nothing more'}, so they are not compared one by one"
        ),
    )


def check_model(model, *, input_length: int = TX, verbose: bool = True) -> CheckResult:
    """Grade a Keras model (or a function ``input_shape -> model``) against the lab network, any style.

    Compares, layer by layer, the kind and the settings that matter (filters, kernel, stride, units,
    ``return_sequences``, dropout rate, activation), then the input and output shapes and the number of
    parameters. A ``CausalNormalization`` first layer is allowed (it has no weights), and
    ``TimeDistributed(Dense(1))`` counts as ``Dense(1)``.
    """
    run = _Runner("check_model")
    if not hasattr(model, "layers") and callable(model):  # a builder such as modelf(input_shape)
        builder, built = model, []
        run.case(
            f"{getattr(builder, '__name__', 'the builder')}(({input_length}, {N_FREQ})) builds a model",
            lambda: built.append(builder((input_length, N_FREQ))),
        )
        if not built:
            return run.finish(verbose)
        model = built[0]
    if not hasattr(model, "layers"):
        run.case("a Keras model", lambda: f"expected a Keras model, got {type(model).__name__} {model!r:.60}")
        return run.finish(verbose)
    layers = [_layer_config(layer) for layer in model.layers if type(layer).__name__ not in _SKIPPED_LAYERS]
    pairs, difference = _align([kind for kind, _ in layers])

    def count():
        if len(layers) != len(MODEL_SPEC):
            got = ", ".join(kind for kind, _ in layers)
            return f"expected {len(MODEL_SPEC)} layers after the input, got {len(layers)}: {got}" + (
                f" ({difference[1]})" if difference else ""
            )
        return None

    run.case("number of layers", count)
    # Settings are compared where the layers line up. After a missing or extra layer the rest line up again
    # one place off; after any other difference they are not compared one by one: one mistake, one message.
    cases = []
    for i, j in pairs:
        kind, want = MODEL_SPEC[i]

        def thunk(kind=kind, want=want, j=j):
            got_kind, got_cfg = layers[j]
            got = {k: got_cfg.get(k) for k in want}
            return None if got == want else f"expected {_fmt(kind, want)}, got {_fmt(got_kind, got)}"

        cases.append(((i, 1), f"layer {i + 1}: {kind}", thunk))
    if difference:
        i = difference[0]
        title = (
            f"layer {i + 1}: {MODEL_SPEC[i][0]}" if i < len(MODEL_SPEC) else "nothing after the last layer"
        )
        cases.append(((i, 0), title, lambda: difference[2]))
    for _, title, thunk in sorted(cases, key=lambda case: case[0]):
        run.case(title, thunk)

    def follows() -> str:
        return f" (this follows from the layer difference at layer {difference[0] + 1})" if difference else ""

    def shapes():
        in_shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
        if in_shape is not None and in_shape[1:] != (input_length, N_FREQ):
            return f"input: expected (None, {input_length}, {N_FREQ}), got {in_shape}"
        import keras

        out_shape = tuple(model(keras.KerasTensor((1, input_length, N_FREQ))).shape)
        steps = (input_length - CONV_KERNEL) // CONV_STRIDE + 1
        if out_shape[1:] != (steps, 1):
            return f"output: expected (batch, {steps}, 1), got {out_shape}" + follows()
        return None

    def params():
        n = model.count_params()
        return None if n == MODEL_PARAMS else f"expected {MODEL_PARAMS:,} parameters, got {n:,}" + follows()

    run.case("input and output shapes", shapes)
    run.case("number of parameters", params)
    return run.finish(verbose)


# ---------------------------------------------------------------------------------------- firing rule


def _probs(*runs: tuple[int, int, float], n: int = 300, floor: float = 0.05) -> np.ndarray:
    p = np.full(n, floor)
    for start, stop, value in runs:
        p[start:stop] = value
    return p


def check_fire_steps(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``fire_steps(probs, threshold, patience, refractory) -> steps where the detector fires``.

    The rule (:func:`twd_lab.metrics.find_triggers`): fire at step ``i`` when the ``patience`` steps up to
    and including ``i`` are all strictly above ``threshold``, and at least ``refractory`` steps have passed
    since the last firing (a run that stays above fires again once the refractory time is over).
    """
    from twd_lab.metrics import find_triggers

    run = _Runner("check_fire_steps")
    cases = [
        ("one run, patience 1: fires on its first step", _probs((100, 160, 0.9)), 0.5, 1, 75),
        ("patience 5: the 5th step of the run", _probs((100, 160, 0.9)), 0.5, 5, 75),
        ("a 3-step blip is ignored with patience 5", _probs((40, 43, 0.8), (100, 160, 0.9)), 0.5, 5, 75),
        ("refractory 0: every step above the threshold", _probs((10, 14, 0.9)), 0.5, 1, 0),
        ("a long run fires again after the refractory time", _probs((50, 250, 0.9)), 0.5, 1, 75),
        (
            "a firing blocks the next word during the refractory time",
            _probs((40, 43, 0.8), (100, 160, 0.9)),
            0.5,
            1,
            75,
        ),
        ("strictly above: a value equal to the threshold does not count", _probs((20, 30, 0.5)), 0.5, 1, 75),
        ("a run too short for the patience never fires", _probs((230, 240, 0.7)), 0.5, 21, 75),
        ("nothing above the threshold", _probs(), 0.5, 1, 75),
    ]
    for description, probs, threshold, patience, refractory in cases:

        def thunk(probs=probs, threshold=threshold, patience=patience, refractory=refractory):
            got = fn(probs.copy(), threshold, patience, refractory)
            if got is None:
                return "returned None; return the list of steps"
            got = [int(v) for v in np.asarray(got).reshape(-1)]
            want = [int(v) for v in find_triggers(probs, threshold, patience, refractory)]
            if got != want:
                runs = np.flatnonzero(np.diff(np.r_[0, (probs > threshold).astype(int), 0]))
                above = ", ".join(f"{a}..{b - 1}" for a, b in zip(runs[::2], runs[1::2])) or "none"
                return (
                    f"steps above {threshold}: {above}; patience {patience}, refractory {refractory}: "
                    f"expected firings at {want}, got {got}"
                )
            return None

        run.case(description, thunk)
    return run.finish(verbose)


# ------------------------------------------------------------------------------------- event matching


def check_count_detections(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``count_detections(word_ends_s, fires_s, window_s=(-0.2, 1.2)) -> (hits, false_accepts)``.

    The rule (:func:`twd_lab.metrics.event_scores`): a firing at ``t`` detects the word ending at ``e`` when
    ``e + window_s[0] <= t <= e + window_s[1]`` (both edges included); each word and each firing is matched
    at most once, in time order (a firing inside two words' windows detects the earlier word); a firing that
    detects no word is a false accept. Either list may come unsorted.
    """
    from twd_lab.metrics import WINDOW_S, event_scores

    run = _Runner("check_count_detections")
    cases = [
        ("no firings: every word is missed, and nothing is a false accept", [2.0, 6.0], [], None),
        ("no words: every firing is a false accept", [], [1.0, 5.0], None),
        ("a firing exactly 0.2 s before the end (the window's start is included)", [2.0], [1.8], None),
        ("a firing exactly 1.2 s after the end (the window's end is included)", [1.8], [3.0], None),
        ("a firing 0.25 s before the end is outside the window", [2.0], [1.75], None),
        ("a firing 1.25 s after the end is outside the window", [2.0], [3.25], None),
        ("two firings for one word: the second is a false accept", [2.0], [2.3, 2.4], None),
        ("one firing between two close words detects one of them, not both", [2.0, 2.5], [2.6], None),
        (
            "a firing in two words' windows detects the earlier one; a later firing, the later one",
            [2.0, 2.5],
            [2.6, 3.5],
            None,
        ),
        (
            "unsorted word ends and firings (sort them, without changing the caller's lists)",
            [6.0, 2.0],
            [9.0, 6.5, 2.3],
            None,
        ),
        ("another window_s (use the argument, not the default)", [2.0, 6.0], [2.75, 6.25], (0.0, 0.5)),
    ]
    for description, ends, fires, window in cases:

        def thunk(ends=ends, fires=fires, window=window):
            ends_copy, fires_copy = list(ends), list(fires)
            call = f"count_detections({ends}, {fires}" + (f", window_s={window})" if window else ")")
            got = fn(ends_copy, fires_copy) if window is None else fn(ends_copy, fires_copy, window)
            if ends_copy != list(ends) or fires_copy != list(fires):
                return "count_detections must not change its arguments (use sorted(...), not list.sort())"
            if got is None:
                return f"{call} returned None; return (hits, false_accepts)"
            if not isinstance(got, (tuple, list, np.ndarray)) or len(got) != 2:
                return f"{call}: expected a pair (hits, false_accepts), got {got!r}"
            if any(v is None for v in got):
                return f"{call} returned {tuple(got)}: is something still None? fill in the code between the markers"
            got = (int(got[0]), int(got[1]))
            lo, hi = window or WINDOW_S
            duration = 1.0 + max([10.0, *ends, *fires])
            scores = event_scores(ends, fires, duration, (lo, hi))
            want = (scores.hits, scores.false_accepts)
            if got != want:
                windows = (
                    ", ".join(f"{e:g} s: {e + lo:.4g} ... {e + hi:.4g} s" for e in sorted(ends)) or "none"
                )
                return (
                    f"{call}: expected (hits, false_accepts) = {want}, got {got} "
                    f"(each word's window: {windows})"
                )
            return None

        run.case(description, thunk)
    return run.finish(verbose)
