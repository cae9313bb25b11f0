"""Drawing, kept apart from computing: spectrograms, labels and probabilities on matplotlib Axes.

Each function draws into ``ax`` when given one and returns it. Without ``ax`` it makes a new
``matplotlib.figure.Figure`` (not pyplot's global state, so nothing piles up in a loop: the lab's
``graph_spectrogram`` leaked a figure per call) and, inside a Jupyter kernel, displays it.
"""

from __future__ import annotations

import numpy as np

from twd_lab.constants import HOP, NFFT, SAMPLE_RATE, STEP_S

__all__ = ["new_axes", "plot_labels", "plot_probabilities", "plot_spectrogram"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def new_axes(figsize=(8, 3)):
    """A fresh ``Axes`` on a new ``Figure`` that pyplot does not track (so it is freed with its Axes)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _finish(ax, created: bool):
    if created and _in_notebook():
        from IPython.display import display

        display(ax.figure)
    return ax


def plot_spectrogram(spec: np.ndarray, *, ax=None, sample_rate: int = SAMPLE_RATE, db: bool = True):
    """Draw ``spec [shape=(n_freq, n_frames)]`` with time in seconds and frequency in real Hz.

    ``sample_rate`` is the audio's real rate (44.1 kHz), not the lab's ``Fs=8000``, so the axis reads
    0 to 22,050 Hz. ``db`` draws ``10 log10`` of the power, as ``plt.specgram`` does. Returns the Axes.
    """
    spec = np.asarray(spec)
    if spec.ndim != 2:
        raise ValueError(f"spec must have shape (n_freq, n_frames), got {spec.shape}")
    created = ax is None
    ax = new_axes() if created else ax
    n_freq, n_frames = spec.shape
    hop_s = HOP / sample_rate
    t0 = NFFT / 2 / sample_rate  # centre of the first window, as mlab's time axis
    df = sample_rate / 2 / max(n_freq - 1, 1)
    values = 10.0 * np.log10(np.maximum(spec, 1e-20)) if db else spec
    im = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(t0 - hop_s / 2, t0 + (n_frames - 0.5) * hop_s, -df / 2, sample_rate / 2 + df / 2),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.figure.colorbar(im, ax=ax, label="power (dB)" if db else "power")
    return _finish(ax, created)


def plot_labels(y: np.ndarray, ax=None):
    """Draw labels ``y [shape=(1, Ty) or (Ty,)]`` against time in seconds. Returns the Axes."""
    y = np.asarray(y).reshape(-1)
    created = ax is None
    ax = new_axes((8, 2)) if created else ax
    t = np.arange(y.size) * STEP_S
    ax.step(t, y, where="post")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("label")
    return _finish(ax, created)


def plot_probabilities(probs: np.ndarray, ax=None, threshold: float | None = None, times=None):
    """Draw model probabilities (``(Ty,)``, ``(1, Ty)`` or ``(1, Ty, 1)``) over time, with a threshold line.

    ``times``: when each probability is decided, in seconds (default: the lab's steps, ``STEP_S`` apart;
    give them for another detector, e.g. the speech-embedding one's 80 ms steps)."""
    p = np.asarray(probs).reshape(-1)
    t = np.arange(p.size) * STEP_S if times is None else np.asarray(times, np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"times must give one time per probability ({p.size}), got {t.size}")
    created = ax is None
    ax = new_axes((8, 2)) if created else ax
    ax.plot(t, p)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:g}")
        ax.legend(loc="upper right")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    return _finish(ax, created)
