"""Average trained speech-embedding heads into one: an ensemble of heads trained on different recipes.

    python tools/average_embedding_heads.py runs/heads/a.keras runs/heads/b.keras --out runs/heads/ab.keras

Every member of every head (each is already an average of ``--members`` seeds) becomes a member of the
new head, whose probability is their mean. The firing rule (history, threshold, patience) comes from the
first head; all heads must read the same window. The notes keep each head's own notes, so the commands
that made them stay on record.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder: tool_command

from tool_command import command_line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("heads", nargs="+", type=Path, help="trained heads (.keras, with their .json)")
    ap.add_argument("--out", type=Path, required=True, help="the averaged head (.keras); never overwritten")
    args = ap.parse_args(argv)
    if len(args.heads) < 2:
        ap.error("give at least two heads to average")
    if args.out.exists():
        ap.error(f"--out {args.out} exists; choose a new path")
    from twd_lab import embedding_detector as D
    from twd_lab.detectors.numpy_head import _members

    detectors = [D.EmbeddingDetector.load(p) for p in args.heads]
    first = detectors[0].config
    for path, det in zip(args.heads[1:], detectors[1:]):
        if det.config.history != first.history:
            ap.error(f"{path} reads {det.config.history} steps, {args.heads[0]} reads {first.history}")
    members = [m for det in detectors for m in _members(det.head)]
    model = D.average_heads(members)
    notes = {
        "averaged_heads": [str(p) for p in args.heads],
        "members": len(members),
        "parts": [det.config.notes for det in detectors],
        "command": command_line(__file__, argv),
    }
    config = D.DetectorConfig(
        history=first.history,
        threshold=first.threshold,
        patience=first.patience,
        refractory_s=first.refractory_s,
        notes=notes,
    )
    D.EmbeddingDetector(model, config).save(args.out)
    print(f"saved {args.out}: {len(members)} members of {len(args.heads)} heads", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
