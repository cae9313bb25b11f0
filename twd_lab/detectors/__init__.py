"""Detectors: one interface (:class:`Detector`), two families, and the passes built once on it.

=========================  ======================================================================
module                     what it holds
=========================  ======================================================================
``base``                   :class:`Detector`, :class:`DetectorStream`, :class:`FiringRule`,
                           :class:`Trigger`; :func:`detect_blocks` (files in blocks, one stream)
``lab``                    :class:`LabDetector`: the lab network, 7.26 ms steps
``lab_network``            the network as a fast stateful function (``ChunkedModel``), step times
``embedding``              :class:`EmbeddingDetector`: speech embeddings + a small head, 80 ms steps
``embedding_stream``       its stream (what it carries between chunks)
``speech_embedding``       the frozen ONNX front end (mel spectrogram, speech embedding)
``numpy_head``             the head in NumPy, so the default detector runs without TensorFlow
``live``                   :class:`StreamingBase`: a stream + firing rule, fed chunk by chunk or from a mic
``files``                  :func:`load_detector`, :func:`detect_file`: what ``twd-lab detect`` runs
=========================  ======================================================================

Nothing outside this package asks which detector it holds: the widgets, ``twd-lab detect``/``listen``/
``evaluate``, personalisation and the benchmarks take a :class:`Detector`. Importing this package does not
import TensorFlow or onnxruntime; they load with the detector that needs them.
"""

from twd_lab.detectors.base import (
    Detector,
    DetectorStream,
    FiringRule,
    Trigger,
    detect_blocks,
    trigger_records,
)
from twd_lab.detectors.embedding import EmbeddingDetector
from twd_lab.detectors.files import DETECTORS, detect_file, detector_kind, load_detector
from twd_lab.detectors.lab import LabDetector

__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorStream",
    "EmbeddingDetector",
    "FiringRule",
    "LabDetector",
    "Trigger",
    "detect_blocks",
    "detect_file",
    "detector_kind",
    "load_detector",
    "trigger_records",
]
