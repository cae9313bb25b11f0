"""Render words with the offline text-to-speech engines of Debian's main archive.

Three engines are driven through their command lines, each call writing into a private temporary
folder: ``espeak-ng`` (formant synthesis, many accents and voice variants), ``flite`` (CMU voices
kal, kal16, awb, rms, slt) and ``festival`` (diphone voices kal and ked, the HTS voice slt). All three
are deterministic for fixed parameters, which is what lets ``tools/build_assets.py`` regenerate the
shipped clips bit for bit.

Every rendered clip is float32 mono at ``sample_rate`` (16 kHz by default), with leading and
trailing silence trimmed and its level normalised (:func:`finish_clip`).

>>> v = Voice("espeak-ng", "en-us+m3", speaker="espeak:m3")
>>> clip = render("activate", v, speed=1.1, pitch=0.9)   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

#: Sample rate of rendered clips (the shipped clips are stored at this rate; the loader resamples).
TTS_SAMPLE_RATE = 16_000
#: Loudness of a finished clip (RMS over its voiced frames), in dBFS.
CLIP_DBFS = -20.0
#: Peak ceiling of a finished clip, in dBFS.
PEAK_DBFS = -1.0

ENGINES = ("espeak-ng", "flite", "festival")
_BINARIES = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival"}

#: espeak-ng defaults: words per minute and pitch (0-99).
_ESPEAK_WPM = 175
_ESPEAK_PITCH = 50
#: flite voices' approximate mean f0 (Hz); ``pitch`` scales it through ``int_f0_target_mean``.
_FLITE_F0 = {"kal": 100.0, "kal16": 100.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}
#: festival voices that honour ``Duration_Stretch`` (the HTS voice does not; it is stretched after).
_FESTIVAL_STRETCHES = {"kal_diphone", "ked_diphone"}


@dataclasses.dataclass(frozen=True, order=True)
class Voice:
    """One TTS voice.

    ``engine`` is one of :data:`ENGINES`; ``name`` is the engine's own voice name
    (``"en-us+m3"`` for espeak-ng, ``"slt"`` for flite, ``"kal_diphone"`` for festival);
    ``speaker`` groups voices that share a timbre (e.g. flite's and festival's kal), so a
    held-out split can keep a whole speaker out of training.
    """

    engine: str
    name: str
    speaker: str = ""

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if not self.name:
            raise ValueError("name must be a non-empty voice name")

    @property
    def id(self) -> str:
        """``"engine:name"``, unique across engines."""
        return f"{self.engine}:{self.name}"


def engines_available() -> dict[str, bool]:
    """Which engines are installed: ``{"espeak-ng": True, "flite": False, ...}``."""
    return {e: shutil.which(_BINARIES[e]) is not None for e in ENGINES}


@functools.cache
def engine_versions() -> dict[str, str]:
    """Version strings of the installed engines (for the asset index; '' when missing)."""
    out = {}
    cmds = {
        "espeak-ng": ["espeak-ng", "--version"],
        "flite": ["flite", "--version"],
        "festival": ["festival", "--version"],
    }
    for engine, cmd in cmds.items():
        if shutil.which(cmd[0]) is None:
            out[engine] = ""
            continue
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = (res.stdout or res.stderr).strip().splitlines() or [""]
        # flite prints its copyright first and its version on a later line
        line = next((line for line in lines if "version" in line.lower()), lines[0])
        out[engine] = line.split("Data at:")[0].strip()  # espeak-ng adds its data path
    return out


def _require(engine: str) -> None:
    if not engines_available()[engine]:
        raise RuntimeError(
            f"TTS engine {engine!r} is not installed; on Debian/Ubuntu: "
            "apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
        )


def _check_factor(value: float, name: str, lo: float = 0.25, hi: float = 4.0) -> float:
    value = float(value)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} must be a factor in [{lo}, {hi}], got {value}")
    return value


def _read_pcm(path: Path) -> tuple[int, np.ndarray]:
    sr, data = scipy.io.wavfile.read(path)
    if data.ndim > 1:
        data = data.mean(axis=1)
    if data.dtype == np.int16:
        x = data.astype(np.float32) / 32768.0
    elif data.dtype == np.int32:
        x = (data.astype(np.float64) / 2147483648.0).astype(np.float32)
    elif data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    else:
        x = data.astype(np.float32)
    return int(sr), x


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``x`` from ``sr_in`` to ``sr_out`` Hz (polyphase, exact rational ratio), float32."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} and {sr_out}")
    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out or x.size == 0:
        return x.copy()
    ratio = Fraction(sr_out, sr_in)
    y = scipy.signal.resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def _frame_rms_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.full(1, 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))
    frames = x[: n * frame].astype(np.float64).reshape(n, frame)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)


def trim_silence(
    x: np.ndarray, sample_rate: int, *, threshold_db: float = -40.0, pad_ms: float = 30.0
) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest 10 ms frame,
    keeping ``pad_ms`` of margin. Returns a copy; an all-silent clip comes back unchanged."""
    x = np.asarray(x, dtype=np.float32)
    frame = max(1, int(sample_rate * 0.010))
    db = _frame_rms_db(x, frame)
    loud = np.flatnonzero(db > db.max() - abs(threshold_db))
    if loud.size == 0 or db.max() < -100:
        return x.copy()
    pad = int(sample_rate * pad_ms / 1000)
    start = max(0, loud[0] * frame - pad)
    stop = min(len(x), (loud[-1] + 1) * frame + pad)
    return x[start:stop].copy()


def active_dbfs(x: np.ndarray, sample_rate: int) -> float:
    """Level of the voiced part of ``x`` in dBFS: RMS over 10 ms frames within 30 dB of the loudest."""
    frame = max(1, int(sample_rate * 0.010))
    db = _frame_rms_db(np.asarray(x, dtype=np.float32), frame)
    n = len(x) // frame
    if n == 0:
        return float(db[0])
    frames = np.asarray(x[: n * frame], dtype=np.float64).reshape(n, frame)
    keep = db > db.max() - 30.0
    return float(10 * np.log10(np.mean(frames[keep] ** 2) + 1e-20))


def normalise(
    x: np.ndarray, sample_rate: int, *, target_dbfs: float = CLIP_DBFS, peak_dbfs: float = PEAK_DBFS
) -> np.ndarray:
    """Scale ``x`` so its voiced level is ``target_dbfs``, lowered if needed to keep peaks under
    ``peak_dbfs``. Silence is returned unchanged."""
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < 1e-6:
        return x.copy()
    gain_db = target_dbfs - active_dbfs(x, sample_rate)
    gain_db = min(gain_db, peak_dbfs - 20 * math.log10(peak))
    return (x * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def finish_clip(x: np.ndarray, sr_in: int, sample_rate: int = TTS_SAMPLE_RATE) -> np.ndarray:
    """Resample to ``sample_rate``, remove DC, trim silence and normalise: what every rendered clip gets."""
    y = resample(x, sr_in, sample_rate)
    y = y - np.float32(np.mean(y)) if y.size else y
    y = trim_silence(y, sample_rate)
    return normalise(y, sample_rate)


# ---------------------------------------------------------------------------------------------
# engines


def _espeak_cmd(text: str, voice: Voice, speed: float, pitch: float, out: Path) -> list[str]:
    wpm = round(_ESPEAK_WPM * speed)
    p = int(np.clip(round(_ESPEAK_PITCH * pitch), 0, 99))
    return ["espeak-ng", "-v", voice.name, "-s", str(wpm), "-p", str(p), "-w", str(out), "--", text]


def _flite_cmd(text: str, voice: Voice, speed: float, pitch: float, out: Path) -> list[str]:
    f0 = _FLITE_F0.get(voice.name, 100.0) * pitch
    return [
        "flite",
        "-voice", voice.name,
        "--setf", f"duration_stretch={1.0 / speed:.4f}",
        "--setf", f"int_f0_target_mean={f0:.2f}",
        "-t", text,
        "-o", str(out),
    ]  # fmt: skip


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass(frozen=True)
class Request:
    """One clip to render: ``text`` in ``voice`` at relative ``speed`` (>1 faster) and ``pitch``."""

    text: str
    voice: Voice
    speed: float = 1.0
    pitch: float = 1.0


def render_many(requests: Sequence[Request], *, sample_rate: int = TTS_SAMPLE_RATE) -> list[np.ndarray]:
    """Render many requests; festival requests are batched into one festival process per call.

    Returns float32 clips in the order of ``requests``.
    """
    requests = list(requests)
    for r in requests:
        if not isinstance(r.text, str) or not r.text.strip():
            raise ValueError(f"text must be a non-empty string, got {r.text!r}")
        _check_factor(r.speed, "speed", 0.4, 2.5)
        _check_factor(r.pitch, "pitch", 0.4, 2.5)
        _require(r.voice.engine)
    results: list[np.ndarray | None] = [None] * len(requests)
    with tempfile.TemporaryDirectory(prefix="twd_tts_") as tmp:
        tmpdir = Path(tmp)
        festival_jobs = []
        for i, r in enumerate(requests):
            out = tmpdir / f"{i:06d}.wav"
            if r.voice.engine == "festival":
                festival_jobs.append((i, r, out))
                continue
            cmd = (_espeak_cmd if r.voice.engine == "espeak-ng" else _flite_cmd)(
                r.text, r.voice, r.speed, r.pitch, out
            )
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0 or not out.is_file():
                raise RuntimeError(
                    f"{r.voice.engine} failed for {r.text!r} ({r.voice.id}): {res.stderr.strip()}"
                )
            sr, x = _read_pcm(out)
            results[i] = finish_clip(x, sr, sample_rate)
        if festival_jobs:
            for i, clip in _render_festival(festival_jobs, tmpdir, sample_rate):
                results[i] = clip
    return [r for r in results if r is not None]


def _render_festival(jobs, tmpdir: Path, sample_rate: int):
    # One festival process renders everything: starting festival costs ~0.5 s, a word ~20 ms.
    from twd_lab import augment  # local import: augment is a sibling stage, only festival needs it

    lines = []
    current = None
    for _, r, out in jobs:
        if r.voice.name != current:
            lines.append(f"(voice_{r.voice.name})")
            current = r.voice.name
        stretch = 1.0 / r.speed if r.voice.name in _FESTIVAL_STRETCHES else 1.0
        lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text {_scheme_string(r.text)})) "{out}" \'riff)')
    script = tmpdir / "render.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True, check=False)
    for i, r, out in jobs:
        if not out.is_file():
            raise RuntimeError(f"festival failed for {r.text!r} ({r.voice.id}): {res.stderr.strip()}")
        sr, x = _read_pcm(out)
        x = resample(x, sr, sample_rate)
        # festival has no portable pitch control across its voices, and the HTS voice ignores
        # Duration_Stretch: both are applied here, deterministically (no randomness involved).
        if r.voice.name not in _FESTIVAL_STRETCHES and r.speed != 1.0:
            x = augment.time_stretch(x, r.speed)
        if r.pitch != 1.0:
            x = augment.pitch_shift(x, 12 * math.log2(r.pitch))
        yield i, finish_clip(x, sample_rate, sample_rate)


def render(
    text: str, voice: Voice, *, speed: float = 1.0, pitch: float = 1.0, sample_rate: int = TTS_SAMPLE_RATE
) -> np.ndarray:
    """Render ``text`` with ``voice``; float32 mono at ``sample_rate``, trimmed and normalised.

    ``speed`` is a tempo factor (1.2 = 20% faster), ``pitch`` a factor on the voice's mean f0.
    """
    return render_many([Request(text, voice, speed, pitch)], sample_rate=sample_rate)[0]


# ---------------------------------------------------------------------------------------------
# the voices the project uses

#: espeak-ng English accents (the formant voices; the mbrola ones are not free and not used).
ESPEAK_ACCENTS = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
#: espeak-ng voice variants (timbres) that sound like a person, not a robot or an effect.
ESPEAK_VARIANTS = (
    "",  # the accent's own default voice
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "croak", "whisper", "whisperf",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "Denis", "ed", "edward", "Gene", "grandma", "grandpa", "Hugo", "iven",
    "john", "Lee", "linda", "max", "Michael", "michel", "miguel", "Mike", "norbert", "paul",
    "pedro", "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
)  # fmt: skip
#: flite voices (awb_time is a talking clock, not a general voice).
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
#: festival voices (packages festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts).
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
_FESTIVAL_SPEAKERS = {"kal_diphone": "kal", "ked_diphone": "ked", "cmu_us_slt_arctic_hts": "slt"}


@functools.lru_cache(maxsize=1)
def _festival_installed() -> frozenset[str]:
    found = set()
    for base in (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")):
        if base.is_dir():
            found.update(p.name for p in base.glob("*/*") if p.is_dir())
    return frozenset(found)


def all_voices(engines: Iterable[str] | None = None, *, only_installed: bool = True) -> list[Voice]:
    """Every voice the project knows, sorted, for ``engines`` (default: all).

    An espeak-ng voice is an accent with a variant (``en-gb-scotland+f2``); its ``speaker`` is the
    variant, since the variant sets the timbre and the accent only the pronunciation. flite's kal and
    festival's kal are one speaker, and so are the two slt voices.
    """
    engines = tuple(ENGINES if engines is None else engines)
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"engines must be drawn from {ENGINES}, got {e!r}")
    have = engines_available() if only_installed else dict.fromkeys(ENGINES, True)
    out: list[Voice] = []
    if "espeak-ng" in engines and have["espeak-ng"]:
        for accent in ESPEAK_ACCENTS:
            for variant in ESPEAK_VARIANTS:
                name = f"{accent}+{variant}" if variant else accent
                out.append(Voice("espeak-ng", name, speaker=f"espeak:{variant or 'default'}"))
    if "flite" in engines and have["flite"]:
        for name in FLITE_VOICES:
            out.append(Voice("flite", name, speaker=f"cmu:{name.removesuffix('16')}"))
    if "festival" in engines and have["festival"]:
        installed = _festival_installed()
        for name in FESTIVAL_VOICES:
            if only_installed and name not in installed:
                continue
            out.append(Voice("festival", name, speaker=f"cmu:{_FESTIVAL_SPEAKERS[name]}"))
    return sorted(out)
