"""Audio -> pretrained speech embeddings (Google's ``speech_embedding``, run with onnxruntime).

A second front end beside the lab's spectrogram. Two frozen ONNX models that the ``openwakeword``
0.4.0 wheel carries (``openwakeword/resources/models/``; the speech embedding is Google's
``speech_embedding`` TF-Hub model, Apache-2.0) turn audio into 96-number vectors, one every 80 ms.
They are a dependency, found inside the installed package; only their files are used, run with
``onnxruntime`` here. Install them with ``pip install "twd-lab[embedding]"``.

What the two models do, as inspected with onnxruntime::

    melspectrogram.onnx   input  "input"   (batch, samples) float32, 16 kHz audio in int16 units
                          output "output"  (batch, 1, frames, 32) float32, 10*log10 power (floor -100)
                          frames = (samples - 512) // 160 + 1: one frame per 10 ms hop; frame i reads
                          samples [160 i, 160 i + 512) (a 400-sample window centred in 512), and then
                          every value is raised to at least 80 dB below the loudest value of the call
                          (``MEL_TOP_DB``): a frame depends on the whole input through that maximum
    embedding_model.onnx  input  "input_1"  (windows, 76, 32, 1) float32: 76 mel frames, scaled x/10 + 2
                          output "conv2d_19" (windows, 1, 1, 96) float32

Windows of 76 frames start every 8 frames, so one embedding covers 0.775 s of audio and a new one comes
every 80 ms. The embedding network is convolutional in time: its time convolutions are unpadded and its
three time poolings halve, so run on ``76 + 8 (k - 1)`` frames it gives the ``k`` windows' embeddings at
once, sharing the work the overlapping windows would repeat. Only its fixed input shape says 76 frames;
:mod:`~twd_lab.detectors.onnx_sliding` opens that up (with the ``onnx`` package), and
:class:`FrameEmbedder` runs it stage by stage for streams, so each layer is computed once per frame. Both are
checked against the windows' numbers when loaded. About 12x less compute per second of audio than window by
window; without ``onnx`` the windows are run one batch at a time as before. Embedding ``k`` ends where its last mel frame ends; :func:`embeddings` returns that time with
each vector, the time a detector built on them can fire.

>>> emb, times = embeddings(np.zeros(44_100, np.float32), 44_100)      # doctest: +SKIP
>>> emb.shape, times[:2]                                                # doctest: +SKIP
((3, 96), array([0.782, 0.862]))
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twd_lab.detectors import onnx_sliding

#: Sample rate the embedding models read, in Hz.
EMBEDDING_SAMPLE_RATE = 16_000
#: Mel frames: hop and analysis length in samples at 16 kHz, and mel bands.
MEL_HOP = 160
MEL_WINDOW = 512
N_MELS = 32
#: The mel model raises every value to at least this many dB below the loudest value of its input.
MEL_TOP_DB = 80.0
#: Embedding windows: mel frames per window, and frames between windows (80 ms).
WINDOW_FRAMES = 76
WINDOW_STRIDE = 8
#: Numbers per embedding vector.
EMBEDDING_DIM = 96
#: Seconds between embedding steps.
EMBEDDING_STEP_S = WINDOW_STRIDE * MEL_HOP / EMBEDDING_SAMPLE_RATE  # 0.08
#: Shortest audio that gives one embedding: 76 frames, 0.782 s at 16 kHz.
MIN_SAMPLES = (WINDOW_FRAMES - 1) * MEL_HOP + MEL_WINDOW  # 12,512 samples

#: The models read int16-valued audio; our clips are float in [-1, 1].
_PCM_SCALE = 32_767.0
#: Windows per onnxruntime call: small batches run fastest on one CPU thread (~0.7 ms per window).
_BATCH_WINDOWS = 16
#: Windows per call of the sliding (whole-sequence) model: bounds its activations to a few MB.
_SLIDING_WINDOWS = 64

INSTALL_HINT = 'pip install "twd-lab[embedding]"'
_MODEL_FILES = {"mel": "melspectrogram.onnx", "embedding": "embedding_model.onnx"}


def _import_onnxruntime():
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise ImportError(
            f"the speech-embedding front end needs onnxruntime and openwakeword: {INSTALL_HINT}"
        ) from exc


def model_files() -> dict[str, Path]:
    """Paths of the two ONNX files inside the installed ``openwakeword`` package.

    Raises ``ImportError`` naming the install command if the package is missing.
    """
    try:
        root = importlib.resources.files("openwakeword") / "resources" / "models"
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"the speech-embedding front end needs the openwakeword package (for its ONNX files): "
            f"{INSTALL_HINT}"
        ) from exc
    paths = {key: Path(str(root / name)) for key, name in _MODEL_FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the installed openwakeword; {INSTALL_HINT}")
    return paths


def _session(model, ort):
    options = ort.SessionOptions()
    # One thread: deterministic, and polite to whatever else runs on the machine.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


#: A front end: None for the embedding model as shipped, or the path of a ``.npz`` of fine-tuned weights
#: for some of its layers (:func:`twd_lab.detectors.onnx_sliding.with_weights`; see
#: :mod:`twd_lab.front_end_tuning`), swapped in when the model is loaded.
FrontEnd = str | Path | None


def _front_end_key(front_end: FrontEnd) -> str | None:
    return None if front_end is None else str(Path(front_end).resolve())


@functools.lru_cache(maxsize=4)
def _embedding_model(front_end: str | None):
    """The embedding model to run: the shipped file's path, or its bytes with ``front_end``'s weights
    (swapped once per front end, whichever sessions ask first)."""
    path = model_files()["embedding"]
    return path if front_end is None else onnx_sliding.with_weights(path, front_end)


@functools.lru_cache(maxsize=4)
def _sessions(front_end: str | None = None):
    """(mel session, embedding session, sliding embedding session or None) of one front end (a key of
    :func:`_front_end_key`).

    The sliding model is built on first use of this function only; a stream, which needs just the mel
    model and :func:`_stage_sessions`, calls :func:`_shipped_sessions` and never pays for it."""
    mel, emb = _shipped_sessions(front_end)
    sliding = onnx_sliding.sliding_model(_embedding_model(front_end))
    if sliding is not None:
        sliding = _session(sliding, _import_onnxruntime())
        if not _same_as_windows(sliding, emb):
            sliding = None
    return mel, emb, sliding


@functools.lru_cache(maxsize=1)
def _mel_session():
    return _session(str(model_files()["mel"]), _import_onnxruntime())


@functools.lru_cache(maxsize=4)
def _shipped_sessions(front_end: str | None = None):
    """(mel session, embedding session) of the two ONNX files as shipped (the embedding with
    ``front_end``'s weights when one is given)."""
    emb = _embedding_model(front_end)
    return _mel_session(), _session(emb if isinstance(emb, bytes) else str(emb), _import_onnxruntime())


def _check_frames(extra_windows: int = 40) -> np.ndarray:
    frames = np.random.default_rng(0).uniform(-1, 3, (WINDOW_FRAMES + extra_windows * WINDOW_STRIDE, N_MELS))
    return frames.astype(np.float32)


def _same_as_windows(sliding, windowed) -> bool:
    """Whether the sliding model gives the windowed model's numbers on a few windows of random frames."""
    frames = _check_frames(3)
    return np.allclose(_embed_sliding(sliding, frames), _embed_windows(windowed, frames), atol=1e-5)


@functools.lru_cache(maxsize=4)
def _stage_sessions(front_end: str | None = None):
    """[(session, Stage)] of the embedding network cut at its time poolings, or None (no ``onnx``, or the
    stages do not give the windows' numbers on random frames fed in uneven pieces)."""
    ort = _import_onnxruntime()
    stages = onnx_sliding.stages(_embedding_model(front_end))
    if stages is None:
        return None
    sessions = [(_session(stage.model, ort), stage) for stage in stages]
    frames, embedder = _check_frames(), FrameEmbedder(sessions)
    pieces = np.split(frames, [5, 80, 83, 200, 300])
    streamed = np.concatenate([embedder.feed(p) for p in pieces])
    ok = np.allclose(streamed, _embed_windows(_shipped_sessions(front_end)[1], frames), atol=1e-5)
    return sessions if ok else None


def to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float audio at ``sample_rate`` -> float32 at 16 kHz (:func:`twd_lab.audio.resample`)."""
    from twd_lab.audio import resample

    return resample(samples, int(sample_rate), EMBEDDING_SAMPLE_RATE)


def n_steps(n_samples_16k: int) -> int:
    """Embedding steps for ``n_samples_16k`` samples at 16 kHz (0 if shorter than ``MIN_SAMPLES``)."""
    if n_samples_16k < MIN_SAMPLES:
        return 0
    frames = (n_samples_16k - MEL_WINDOW) // MEL_HOP + 1
    return (frames - WINDOW_FRAMES) // WINDOW_STRIDE + 1


def step_times(steps: int) -> np.ndarray:
    """End time in seconds of each of ``steps`` embedding steps: where its last mel frame ends."""
    return step_end_s(np.arange(steps))


def step_end_s(steps) -> np.ndarray:
    """End time in seconds of the embedding steps with indices ``steps`` (0 is the first step)."""
    last_frame = WINDOW_FRAMES - 1 + WINDOW_STRIDE * np.asarray(steps, dtype=np.int64)
    return ((last_frame * MEL_HOP + MEL_WINDOW) / EMBEDDING_SAMPLE_RATE).astype(np.float64)


def _check_samples(samples, sample_rate) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(
            f"samples must be 1-D mono audio (n_samples,), got shape {samples.shape}; "
            "mix stereo down first (twd_lab.audio reads any WAV as mono)"
        )
    if not np.issubdtype(samples.dtype, np.number):
        raise TypeError(f"samples must be numeric audio, got dtype {samples.dtype}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int in Hz, got {sample_rate!r}")
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    return samples.astype(np.float32, copy=False)


def mel_frames(samples_16k: np.ndarray) -> np.ndarray:
    """Scaled mel frames ``(frames, 32)`` float32 of float audio at 16 kHz (the embedding's input)."""
    mel = _mel_session()
    x = (np.asarray(samples_16k, dtype=np.float32) * _PCM_SCALE)[None, :]
    out = mel.run(None, {"input": x})[0]  # (1, 1, frames, 32)
    return out[0, 0] / 10.0 + 2.0


def embed_frames(frames: np.ndarray, front_end: FrontEnd = None) -> np.ndarray:
    """Embeddings ``(steps, 96)`` of scaled mel frames ``(n_frames, 32)``: one per 76-frame window, every
    8 frames from the first (none if fewer than 76 frames). ``front_end``: see :data:`FrontEnd`."""
    _, windowed, sliding = _sessions(_front_end_key(front_end))
    frames = np.asarray(frames, dtype=np.float32)
    return _embed_windows(windowed, frames) if sliding is None else _embed_sliding(sliding, frames)


def _n_windows(n_frames: int) -> int:
    return max(0, (n_frames - WINDOW_FRAMES) // WINDOW_STRIDE + 1)


def _embed_sliding(session, frames: np.ndarray) -> np.ndarray:
    """:func:`embed_frames` with the sliding model: up to ``_SLIDING_WINDOWS`` windows per call."""
    steps = _n_windows(len(frames))
    out = np.empty((steps, EMBEDDING_DIM), np.float32)
    for i in range(0, steps, _SLIDING_WINDOWS):
        n = min(_SLIDING_WINDOWS, steps - i)
        span = frames[WINDOW_STRIDE * i : WINDOW_STRIDE * (i + n - 1) + WINDOW_FRAMES]
        x = np.ascontiguousarray(span[None, :, :, None])
        out[i : i + n] = session.run(None, {"input_1": x})[0][0, :, 0]
    return out


def _embed_windows(session, frames: np.ndarray) -> np.ndarray:
    """:func:`embed_frames` window by window, ``_BATCH_WINDOWS`` windows per call (the model as shipped)."""
    steps = _n_windows(len(frames))
    out = np.empty((steps, EMBEDDING_DIM), np.float32)
    if steps == 0:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(frames, (WINDOW_FRAMES, N_MELS))[::WINDOW_STRIDE, 0]
    for i in range(0, steps, _BATCH_WINDOWS):
        batch = np.ascontiguousarray(windows[i : i + _BATCH_WINDOWS, :, :, None])
        out[i : i + len(batch)] = session.run(None, {"input_1": batch})[0].reshape(len(batch), EMBEDDING_DIM)
    return out


class FrameEmbedder:
    """Embeddings of scaled mel frames that arrive in pieces: ``feed(frames (n, 32))`` gives the
    ``(steps, 96)`` vectors those frames complete, the same as :func:`embed_frames` on all frames so far.

    Each stage of the network (:func:`twd_lab.detectors.onnx_sliding.stages`) keeps only the few inputs
    its next outputs still need (under 12 time steps), so every layer runs once per frame: about 4x less
    compute than embedding each new window's 76 frames. Without ``onnx`` it keeps < 76 frames and calls
    :func:`embed_frames`.
    """

    def __init__(self, sessions=None, *, front_end: FrontEnd = None):
        self._front_end = _front_end_key(front_end)
        self._stages = _stage_sessions(self._front_end) if sessions is None else sessions
        self._inputs = [None] * len(self._stages or [])
        self._frames = np.zeros((0, N_MELS), np.float32)  # without stages

    @property
    def buffered(self) -> int:
        """Time steps held across all stages (mel frames and pooled steps): bounded, whatever was fed."""
        if self._stages is None:
            return len(self._frames)
        return sum(
            0 if x is None else x.shape[st.time_axis] for x, (_, st) in zip(self._inputs, self._stages)
        )

    def feed(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float32)
        if self._stages is None:
            self._frames = np.concatenate([self._frames, frames])
            steps = _n_windows(len(self._frames))
            used = self._frames[: (steps - 1) * WINDOW_STRIDE + WINDOW_FRAMES]
            emb = embed_frames(used, self._front_end) if steps else None
            self._frames = self._frames[steps * WINDOW_STRIDE :].copy()
            return np.zeros((0, EMBEDDING_DIM), np.float32) if emb is None else emb
        x = frames[None, :, :, None]
        for k, (session, stage) in enumerate(self._stages):
            axis = stage.time_axis
            held = self._inputs[k]
            x = x if held is None else np.concatenate([held, x], axis=axis)
            length = x.shape[axis]
            n = (length - stage.shrink) // 2 if stage.pooled else length - stage.shrink
            if n <= 0:
                self._inputs[k] = x
                return np.zeros((0, EMBEDDING_DIM), np.float32)
            used = (2 * n if stage.pooled else n) + stage.shrink
            span = np.ascontiguousarray(np.take(x, np.arange(used), axis=axis))
            self._inputs[k] = np.take(x, np.arange(used - stage.shrink, length), axis=axis)
            x = session.run(None, {session.get_inputs()[0].name: span})[0]
        return x[0, :, 0, :]


def embeddings(
    samples: np.ndarray, sample_rate: int, *, front_end: FrontEnd = None
) -> tuple[np.ndarray, np.ndarray]:
    """Speech embeddings of mono audio.

    Parameters
    ----------
    samples : np.ndarray [shape=(n_samples,)]
        Mono audio, float in [-1, 1] (int16/int32 are scaled to it), any length.
    sample_rate : int
        Its sample rate in Hz (44,100 for the lab's clips; 16,000 is used as it is).
    front_end : str, Path or None
        Fine-tuned weights for the embedding's top layers (:data:`FrontEnd`); None: the model as shipped.

    Returns
    -------
    emb : np.ndarray [shape=(n_steps, 96), float32]
        One vector every 80 ms; none for audio shorter than 0.782 s.
    times : np.ndarray [shape=(n_steps,), float64]
        When each step's audio ends, in seconds from the start (0.782, 0.862, ...).

    The same audio always gives the same numbers (one CPU thread, no randomness).

    >>> emb, times = embeddings(np.zeros(441_000, np.float32), 44_100)   # doctest: +SKIP
    >>> emb.shape                                                          # doctest: +SKIP
    (116, 96)
    """
    x = to_16k(_check_samples(samples, sample_rate), int(sample_rate))
    steps = n_steps(len(x))
    if steps == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32), np.zeros(0)
    emb = embed_frames(mel_frames(x), front_end)
    return emb, step_times(steps)


def embeddings_batch(
    clips: Sequence[np.ndarray], sample_rate: int, *, progress: bool = False, front_end: FrontEnd = None
) -> list[np.ndarray]:
    """:func:`embeddings` of many clips at one sample rate: a list of ``(n_steps_i, 96)`` arrays.

    Step times are ``step_times(len(emb))`` for each (every clip starts at 0 s).
    """
    items = clips
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(clips, desc="embeddings", unit="clip")
    return [embeddings(c, sample_rate, front_end=front_end)[0] for c in items]
