"""Held-out TTS "activate"s among other held-out words, with pauses: what the LiveDetector tests say to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE

HELDOUT = Path(__file__).resolve().parent.parent / "assets" / "raw" / "heldout"


def words_with_pauses(
    n_activates: int = 3, n_others: int = 3, *, lead_s: float = 1.0, pause_s: float = 1.6, dbfs: float = -20.0
):
    """``(audio, activate_ends_s, other_spans_s)``: 44.1 kHz float32 of held-out words, each at ``dbfs``,
    activates and other words alternating after ``lead_s`` of silence, ``pause_s`` between words."""
    acts = sorted((HELDOUT / "activates").glob("*.wav"))[:n_activates]
    others = sorted((HELDOUT / "negatives").glob("*.wav"))[:n_others]
    if len(acts) < n_activates or len(others) < n_others:
        import pytest

        pytest.skip(f"needs {n_activates} held-out activates and {n_others} other words under {HELDOUT}")
    from twd_lab.audio import read_wav

    def level(x):
        return (x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))).astype(np.float32)

    parts, n, ends, spans = [np.zeros(round(lead_s * SAMPLE_RATE), np.float32)], 0, [], []
    n = parts[0].size
    words = [(a, True) for a in acts] + [(o, False) for o in others]
    order = [w for pair in zip(words[:n_activates], words[n_activates:]) for w in pair]
    order += words[len(order) // 2 : n_activates] + words[n_activates + len(order) // 2 :]
    for path, is_activate in order:
        x = level(read_wav(path))
        (
            ends.append((n + x.size) / SAMPLE_RATE)
            if is_activate
            else spans.append((n / SAMPLE_RATE, (n + x.size) / SAMPLE_RATE))
        )
        parts += [x, np.zeros(round(pause_s * SAMPLE_RATE), np.float32)]
        n += x.size + parts[-1].size
    return np.concatenate(parts), ends, spans


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as little-endian int16."""
    return np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype("<i2")
