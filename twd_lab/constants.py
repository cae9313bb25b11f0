"""The lab's constants, named once.

Every other module imports these; nothing else hard-codes 441000, 5511, 1375 or 101.
"""

from __future__ import annotations

#: Sample rate of every clip after loading, in Hz.
SAMPLE_RATE = 44_100
#: Length of one training example, in milliseconds.
CLIP_MS = 10_000
#: Length of one training example, in samples at ``SAMPLE_RATE``.
CLIP_SAMPLES = SAMPLE_RATE * CLIP_MS // 1000  # 441,000

#: Spectrogram: FFT window length in samples (the lab's ``nfft``).
NFFT = 200
#: Spectrogram: overlap between windows in samples.
NOVERLAP = 120
#: Spectrogram: hop between windows in samples.
HOP = NFFT - NOVERLAP  # 80
#: The ``Fs`` the lab passes to ``plt.specgram``. It is only an axis label there, but mlab also
#: divides the PSD by it, so the model's input values depend on it. Kept for fidelity.
LAB_FS = 8_000

#: Frequency rows of the spectrogram (NFFT // 2 + 1).
N_FREQ = NFFT // 2 + 1  # 101
#: Spectrogram frames of a 10 s clip: (CLIP_SAMPLES - NOVERLAP) // HOP.
TX = (CLIP_SAMPLES - NOVERLAP) // HOP  # 5511
#: Model output steps for a 10 s clip (Conv1D kernel 15, stride 4 on TX frames).
CONV_KERNEL = 15
CONV_STRIDE = 4
TY = (TX - CONV_KERNEL) // CONV_STRIDE + 1  # 1375

#: Ones after the end of a trigger word, in output steps.
LABEL_RUN = 50

#: Gain applied to a background before mixing, in dB, and the loudness of the final mix, in dBFS.
BACKGROUND_GAIN_DB = -20.0
TARGET_DBFS = -20.0

#: Per clip: the lab draws ``randint(0, 5)`` activates and ``randint(0, 3)`` negatives.
MAX_ACTIVATES = 4
MAX_NEGATIVES = 2

#: Scale of 16-bit PCM. Clips are float32 in [-1, 1]; the lab's spectrogram read int16 WAV values,
#: so training examples are scaled by this before the spectrogram to keep the lab's values.
PCM16_SCALE = 32_768.0

#: Detection defaults (see twd_lab.detection): the lab's threshold; patience and refractory in
#: output steps. The lab's notebook versions disagree (fire after >20 steps above threshold vs at
#: most one chime per 75 steps), so both are parameters.
THRESHOLD = 0.5
PATIENCE = 1
REFRACTORY = 75

#: Silence put before and after a file's audio by ``twd-lab detect`` (seconds). A detector decides a
#: moment *after* the word has ended (the embedding head 0.3-0.8 s after), so a file that stops right
#: after "activate" (a recording of the word alone) otherwise ends before the detector can fire; and
#: the embedding detector's first step needs 0.78 s of audio. Measured on the 10 real one-word
#: recordings: 2 of 10 heard without padding, 10 of 10 with it.
DETECT_LEAD_S = 0.5
DETECT_TAIL_S = 1.0

#: Dev clips scored after each training epoch to keep the best one (32 made the pick noisy: its F1
#: swung by 0.03-0.05 from epoch to epoch). About 220 MB of spectrograms.
DEV_CLIPS = 100

#: Seconds per output step (10 s / 1375).
STEP_S = CLIP_MS / 1000 / TY


def frames_for_samples(n_samples: int) -> int:
    """Spectrogram frames for ``n_samples`` samples: ``(n - NOVERLAP) // HOP`` (0 if too short)."""
    return max(0, (int(n_samples) - NOVERLAP) // HOP)


def steps_for_frames(n_frames: int) -> int:
    """Model output steps for ``n_frames`` spectrogram frames (0 if shorter than the kernel)."""
    return max(0, (int(n_frames) - CONV_KERNEL) // CONV_STRIDE + 1)
