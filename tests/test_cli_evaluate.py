"""`twd-lab evaluate`: any detector, chosen as `twd-lab detect` chooses it, scored through the one Detector
interface; the JSON keeps its fields (plus ``detector``) with figures in range; talk mode; one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import run_cli, skip_without_embedding_detector

#: The fields `twd-lab evaluate --json` has always printed for each test set.
REPORT_KEYS = (
    "name", "source", "seed", "n_clips", "threshold", "patience", "refractory", "window_s", "frame_accuracy",
    "all_zeros_accuracy", "loss", "precision", "recall", "f1", "miss_rate", "false_accepts",
    "false_accepts_per_hour", "hits", "n_words", "n_triggers", "duration_s", "negative_s", "best_f1",
    "best_threshold", "det",
)  # fmt: skip
FRACTIONS = ("precision", "recall", "f1", "miss_rate", "frame_accuracy", "all_zeros_accuracy", "best_f1")


def reports_of(out: str) -> list[dict]:
    """The reports `evaluate --json` printed: one object, or a list of them."""
    found = json.loads(out)
    return found if isinstance(found, list) else [found]


def check_in_range(report: dict, n_clips: int) -> None:
    for key in REPORT_KEYS + ("detector", "step_s"):
        assert key in report, key
    assert report["n_clips"] == n_clips and report["duration_s"] == pytest.approx(10.0 * n_clips)
    for key in FRACTIONS:
        assert 0.0 <= report[key] <= 1.0, (key, report[key])
    assert report["hits"] <= report["n_words"] and report["hits"] <= report["n_triggers"]
    assert report["n_triggers"] == report["hits"] + report["false_accepts"]
    assert report["false_accepts_per_hour"] >= 0 and report["loss"] >= 0
    assert 0 < report["negative_s"] <= report["duration_s"]
    det = report["det"]
    assert len(det["thresholds"]) == len(det["miss_rate"]) == len(det["false_accepts_per_hour"]) > 1
    assert report["best_threshold"] in det["thresholds"]


def test_evaluate_scores_the_default_detector_without_tensorflow():
    skip_without_embedding_detector()
    code = (
        "import sys, json; from twd_lab.cli import main; "
        "status = main(['evaluate', '-n', '3', '--seed', '5', '--json', '--quiet']); "
        "print(json.dumps([status, 'tensorflow' in sys.modules, 'keras' in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out, loaded = done.stdout.strip().splitlines()
    assert json.loads(loaded) == [0, False, False]
    reports = reports_of(out)
    held = reports[0]
    assert held["source"] == "bundled:heldout" and {r["detector"] for r in reports} == {"embedding"}
    for report in reports:
        check_in_range(report, 3)

    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.evaluation import evaluate_detector, iter_test_clips

    shipped = EmbeddingDetector.load()
    words = sum(len(ends) for _, ends in iter_test_clips("heldout", 3, 5))
    assert held["n_words"] == words > 0 and held["recall"] == pytest.approx(held["hits"] / words)
    rule = shipped.rule  # the detector's own firing rule, in its own 80 ms steps
    own = (rule.threshold, rule.patience, rule.refractory)
    assert (held["threshold"], held["patience"], held["refractory"]) == own
    assert held["step_s"] == shipped.step_s
    # the shipped detector is trained: it beats the all-zeros answer on its own targets and finds the words
    assert held["frame_accuracy"] > held["all_zeros_accuracy"] and held["recall"] >= 0.75
    # the command is the library's evaluation through the Detector interface, nothing of its own
    assert evaluate_detector(shipped, "heldout", 3, 5, name="shipped") == held


def test_evaluate_firing_rule_options_are_reported_in_the_detectors_own_steps(capsys):
    skip_without_embedding_detector()
    argv = ["evaluate", "-n", "2", "--seed", "1", "--json", "--quiet", "--raw"]
    from twd_lab.assets_index import bundled_raw_dir

    code, out, err = run_cli(capsys, *argv, str(bundled_raw_dir("heldout")), "--threshold", "0.5",
                             "--patience", "1", "--refractory", "3")  # fmt: skip
    assert code == 0, err
    (report,) = reports_of(out)  # --raw: that folder alone
    assert (report["threshold"], report["patience"], report["refractory"]) == (0.5, 1, 3)
    check_in_range(report, 2)


def test_evaluate_talk_hours_adds_false_accepts_per_hour_on_held_out_talk(capsys):
    skip_without_embedding_detector()
    from twd_lab import talk

    if not (talk.fortune_topics() and shutil.which("espeak-ng")):
        pytest.skip("generated talk needs espeak-ng and fortunes texts (apt-get install espeak-ng fortunes)")
    code, out, err = run_cli(capsys, "evaluate", "-n", "1", "--talk-hours", "0.02", "--json")
    assert code == 0, err
    *sets, spoken = reports_of(out)
    assert sets and sets[0]["source"] == "bundled:heldout"
    assert spoken["source"] == "talk:heldout" and spoken["detector"] == "embedding"
    assert spoken["hours"] == pytest.approx(1 / 60) and spoken["n_words"] == 0  # one minute, no word in it
    assert spoken["false_accepts_per_hour"] == pytest.approx(spoken["false_accepts"] / spoken["hours"])
    assert "talk" in err  # progress goes to stderr; stdout stays JSON


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["--detector", "frob"], 2, "--detector"),
        (["--talk-hours", "-1"], 2, "--talk-hours"),
        (["--talk-hours", "5000"], 1, "--talk-hours must be in (0, 1000]"),
        (["--detector", "embedding", "--model", "x.keras"], 1, "--model is a lab-network .keras file"),
        (["--raw", "no-such-folder"], 1, "--raw: expected a folder"),
    ],
)
def test_evaluate_refuses_bad_options_in_one_line_before_any_work(capsys, argv, status, says):
    code, out, err = run_cli(capsys, "evaluate", "-n", "2", *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status and out == ""
    assert len(lines) == 1 and lines[0].startswith("twd-lab: error: ") and says in lines[0], err
