"""Synthetic talk (twd_lab.talk), the phrases that sound like "activate" (twd_lab.confusables) and the
stream scoring of twd_lab.talk_eval.

Tests that render speech need espeak-ng (and the ``fortunes`` texts); they skip with the reason when
either is missing.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from twd_lab import confusables, noise, talk, talk_eval
from twd_lab.augment import rms_db
from twd_lab.constants import SAMPLE_RATE

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_FORTUNES = bool(talk.fortune_topics())
needs_espeak = pytest.mark.skipif(
    not HAVE_ESPEAK, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)
needs_fortunes = pytest.mark.skipif(
    not HAVE_FORTUNES, reason="the fortunes texts are not installed (apt-get install fortunes fortunes-min)"
)


# --- texts and voices ------------------------------------------------------------------------------


def test_split_sentences_keeps_speakable_sentences_without_the_trigger():
    text = (
        'Go on. Activate it now! "It is a fine day, isn\'t it?" - Mark Twain. '
        "Die Katze schläft heute sehr lange im Garten. This one has far too many words in it to be one "
        "breath of talk, so it is dropped from the list of sentences that we want to say out loud here."
    )
    assert talk.split_sentences(text) == ["It is a fine day, isn't it?"]


@needs_fortunes
def test_train_and_heldout_texts_share_no_sentence_and_hold_no_trigger():
    train, held = talk.talk_sentences("train"), talk.talk_sentences("heldout")
    assert len(train) > 1000 and len(held) > 500
    assert not set(train) & set(held)
    assert not any("activ" in s.lower() for s in train + held)


def test_talk_sentences_names_the_package_when_fortunes_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match="apt-get install fortunes"):
        talk.talk_sentences("train", fortune_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        talk.talk_sentences("dev")


@needs_espeak
def test_talk_voices_split_by_speaker_like_the_word_assets():
    train, held = talk.talk_voices("train"), talk.talk_voices("heldout")
    assert train and held
    assert not {v.speaker for v in train} & {v.speaker for v in held}


# --- clips -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    if not (HAVE_ESPEAK and HAVE_FORTUNES):
        pytest.skip("needs espeak-ng and the fortunes texts")
    voices = [v for v in talk.talk_voices("train") if v.engine == "espeak-ng"][:20]
    return talk.talk_sentences("train")[:500], voices


def test_talk_clip_is_seeded_full_of_speech_and_at_the_detect_level(pool):
    sentences, voices = pool
    a = talk.talk_clip(sentences, voices, rng=3, duration_s=6.0, mode="monologue")
    b = talk.talk_clip(sentences, voices, rng=3, duration_s=6.0, mode="monologue")
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.audio.shape == (6 * SAMPLE_RATE,) and a.audio.dtype == np.float32
    assert a.word_ends_s == []
    frames = a.audio.reshape(-1, 441)
    level = 10 * np.log10((frames**2).mean(1) + 1e-12)
    assert (level > level.max() - 30).mean() > 0.4  # talk most of the time, with pauses
    assert rms_db(a.audio) == pytest.approx(-20.0, abs=3.0) and np.abs(a.audio).max() <= 0.99


def test_talk_clip_says_the_words_where_it_reports_them(pool):
    sentences, voices = pool
    word = np.full(int(0.3 * SAMPLE_RATE), 0.2, np.float32) * np.sin(np.arange(int(0.3 * SAMPLE_RATE)) / 3)
    clip = talk.talk_clip(
        sentences, voices, rng=1, duration_s=10.0, activates=[word], n_activates=2, mode="monologue"
    )
    assert 1 <= len(clip.word_ends_s) <= 2
    for end in clip.word_ends_s:
        stop = round(end * SAMPLE_RATE)
        said = clip.audio[stop - word.size : stop]
        # the word, scaled by the clip's level match: perfectly correlated with what was inserted
        assert np.corrcoef(said, word)[0, 1] > 0.999


@pytest.mark.parametrize("mode", talk.MODES)
def test_every_mode_renders(pool, mode):
    sentences, voices = pool
    clip = talk.talk_clip(sentences, voices, rng=0, duration_s=3.0, mode=mode)
    assert clip.mode == mode and np.isfinite(clip.audio).all()


def test_crowd_clip_is_many_talkers_none_in_front(pool):
    sentences, voices = pool
    a = talk.crowd_clip(sentences, voices, rng=5, duration_s=4.0)
    np.testing.assert_array_equal(a, talk.crowd_clip(sentences, voices, rng=5, duration_s=4.0))
    assert a.shape == (4 * SAMPLE_RATE,) and a.dtype == np.float32
    assert rms_db(a) == pytest.approx(-20.0, abs=0.5)
    one = talk.talk_clip(sentences, voices, rng=5, duration_s=4.0, mode="monologue", background_p=0.0).audio
    level = [10 * np.log10((x.reshape(-1, 441) ** 2).mean(1) + 1e-12) for x in (a, one)]
    # a din: far fewer quiet 10 ms frames than one talker with pauses between words and sentences
    quiet = [(lv < lv.max() - 25).mean() for lv in level]
    assert quiet[0] < quiet[1] / 2, quiet
    mixed = talk.mix_crowd([np.ones(10, np.float32)] * 4, rng=0)
    assert 4 * 10 ** (talk.CROWD_GAIN_DB[0] / 20) <= mixed[0] <= 4 * 10 ** (talk.CROWD_GAIN_DB[1] / 20)
    with pytest.raises(ValueError, match="sentences"):
        talk.crowd_clip([], voices, rng=0)


def test_talk_clip_refuses_what_it_cannot_do(pool):
    sentences, voices = pool
    with pytest.raises(ValueError, match="mode"):
        talk.talk_clip(sentences, voices, rng=0, mode="song")
    with pytest.raises(ValueError, match="n_activates"):
        talk.talk_clip(sentences, voices, rng=0, n_activates=1)
    with pytest.raises(ValueError, match="duration_s"):
        talk.talk_clip(sentences, voices, rng=0, duration_s=0)
    with pytest.raises(ValueError, match="sentences"):
        talk.talk_clip([], voices, rng=0)


# --- confusables ---------------------------------------------------------------------------------------


def test_edit_distance():
    assert confusables.edit_distance("kitten", "sitting") == 3
    assert confusables.edit_distance(("a", "k", "t"), ("a", "k", "t")) == 0
    assert confusables.edit_distance((), ("a",)) == 1


def test_vocabulary_leaves_the_trigger_out():
    assert confusables.vocabulary(["Activate the ACTIVE actor, I said.", "x"]) == ["actor", "said", "the"]


@needs_espeak
def test_confusable_phrases_sound_like_activate_and_are_not_it():
    table = confusables.phonemes(["activate", "back"])
    assert table["activate"] == ("a", "k", "t", "I", "v", "eI", "t")
    found = confusables.confusable_phrases(
        ["act", "ate", "eight", "motivate", "banana", "the"], max_distance=3
    )
    phrases = [p for p, _ in found]
    assert "motivate" in phrases and "act ate" in phrases
    assert "banana" not in phrases and not any("activ" in p for p in phrases)
    target = table["activate"]
    for phrase, d in found:
        spelled = sum((confusables.phonemes(phrase.split())[w] for w in phrase.split()), ())
        assert confusables.edit_distance(spelled, target) == d <= 3


# --- noises of the SNR test ----------------------------------------------------------------------------


def test_music_is_tonal_and_dishes_are_not():
    sr = 16_000
    m = noise.make_background("music", rng=0, duration_s=4.0, sample_rate=sr, room=False)
    d = noise.make_background("dishes", rng=0, duration_s=4.0, sample_rate=sr, room=False)

    def peak_share(x):  # share of the energy in the strongest 1% of frequency bins
        p = np.sort(np.abs(np.fft.rfft(x)) ** 2)[::-1]
        return p[: p.size // 100].sum() / p.sum()

    assert peak_share(m) > 0.5 > peak_share(d)


# --- stream scoring --------------------------------------------------------------------------------


def test_spliced_words_are_where_the_scene_says():
    rng = np.random.default_rng(0)
    segments = [(rng.standard_normal(SAMPLE_RATE * 12).astype(np.float32) * 0.05, []) for _ in range(8)]
    word = np.sin(np.arange(SAMPLE_RATE // 2) / 5).astype(np.float32)
    scene = talk_eval.spliced_segments(segments, [word], every_s=20.0, rng=1)
    ends = [(a, e[0]) for a, e in scene if e]
    assert 3 <= len(ends) <= 5  # 96 s of talk, a word about every 20 s
    for audio, end in ends:
        stop = round(end * SAMPLE_RATE)
        assert np.corrcoef(audio[stop - word.size : stop], word)[0, 1] > 0.999
    with pytest.raises(ValueError, match="activates"):
        talk_eval.spliced_segments(segments, [])


def test_noisy_words_are_at_the_asked_snr():
    word = (0.3 * np.sin(np.arange(SAMPLE_RATE // 2) / 4)).astype(np.float32)
    other = (0.3 * np.sin(np.arange(SAMPLE_RATE // 3) / 7)).astype(np.float32)
    talk_clips = [
        np.random.default_rng(i).standard_normal(SAMPLE_RATE * 5).astype(np.float32) for i in range(3)
    ]
    for snr in (0.0, 20.0):
        scene = talk_eval.noisy_word_segments(
            [word], [other], snr, n=2, kinds=("traffic", "babble"), babble_talk=talk_clips, rng=0
        )
        assert len(scene) == 4
        for audio, ends in scene:
            assert 1 <= len(ends) <= 2 and rms_db(audio) == pytest.approx(-20, abs=0.1)
            end = round(ends[0] * SAMPLE_RATE)
            said = audio[end - word.size : end]
            noise_only = audio[: SAMPLE_RATE // 4] if ends[0] > 1.0 else audio[-SAMPLE_RATE // 4 :]
            # where the word is, it stands above the noise by about the SNR (words are louder inside)
            assert rms_db(said) - rms_db(noise_only) > snr - 6


def test_noisy_other_words_without_the_word_and_what_it_refuses():
    word = (0.3 * np.sin(np.arange(SAMPLE_RATE // 2) / 4)).astype(np.float32)
    other = (0.3 * np.sin(np.arange(SAMPLE_RATE // 3) / 7)).astype(np.float32)
    scene = talk_eval.noisy_word_segments(
        [word], [other], 10.0, n=3, kinds=("traffic",), n_activates=(0, 0), n_negatives=(1, 3), rng=1
    )
    assert len(scene) == 3 and all(ends == [] for _, ends in scene)
    # the other words are there: well above the noise somewhere in each clip
    for audio, _ in scene:
        frames = 10 * np.log10((audio.reshape(-1, 441) ** 2).mean(1) + 1e-12)
        assert frames.max() - np.median(frames) > 5
    for acts, negs in (((0, 0), (0, 1)), ((1, 0), (0, 1)), ((-1, 2), (1, 1))):
        with pytest.raises(ValueError, match="n_activates and n_negatives"):
            talk_eval.noisy_word_segments([word], [other], 10.0, n=1, n_activates=acts, n_negatives=negs)


class _FixedDetector:
    """A stand-in speech-embedding detector whose probability is the first embedding value."""

    class config:
        history = 1
        threshold = 0.5

    def predict(self, windows):
        return windows[:, -1, 0]

    def trigger_steps(self, probs, threshold=None):
        from twd_lab.metrics import find_triggers

        return find_triggers(probs, self.config.threshold if threshold is None else threshold, 1, 1)


def test_cached_scene_scores_firings_on_one_time_line(tmp_path):
    from twd_lab.embedding import step_times

    # two segments of 20 steps; the detector fires at step 5 of each; one word ends just before the second
    emb = np.zeros((40, 96), np.float32)
    emb[[5, 25], 0] = 1.0
    seg_s = [float(step_times(20)[-1]), float(step_times(20)[-1])]
    second_fire = seg_s[0] + step_times(20)[5]
    cache = talk_eval.EmbeddingCache(emb, [20, 20], seg_s, [[], [step_times(20)[5] - 0.3]])
    cache.save(tmp_path / "c.npz")
    loaded = talk_eval.EmbeddingCache.load(tmp_path / "c.npz")
    np.testing.assert_allclose(loaded.word_ends_s(), [second_fire - 0.3])
    s = talk_eval.score_embeddings(_FixedDetector(), loaded)
    assert (s.hits, s.n_words, s.false_accepts) == (1, 1, 1)
    assert s.duration_s == pytest.approx(sum(seg_s))


def test_stream_and_cached_scoring_agree_on_the_shipped_detector():
    from conftest import skip_without_embedding_detector

    skip_without_embedding_detector()
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio
    from twd_lab.embedding_detector import EmbeddingDetector
    from twd_lab.evaluation import iter_test_clips

    acts, negs, bgs = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    audio, ends = next(iter_test_clips((acts, negs, bgs), 1, seed=4, n_activates=3))
    scene = [(audio, ends)]
    det = EmbeddingDetector.load()
    cached = talk_eval.score_embeddings(det, talk_eval.EmbeddingCache.build(scene), 0.5)
    streamed = talk_eval.score_stream_thresholds(det, scene, [0.5, 0.999999])
    assert streamed[0.5] == cached and cached.n_words == 3 and cached.hits >= 1
    assert streamed[0.999999].n_triggers <= streamed[0.5].n_triggers


def test_training_clips_of_talk_and_of_words_in_noise_keep_their_word_ends(pool):
    from conftest import skip_without_embedding_detector

    skip_without_embedding_detector()
    from twd_lab import embedding_detector as D
    from twd_lab.audio import load_raw_audio

    sentences, voices = pool
    acts, negs, bgs = load_raw_audio(as_arrays=True)
    quiet = D.embedded_talk(sentences, voices, 2, rng=0, backgrounds=bgs)
    said = D.embedded_talk(sentences, voices, 3, rng=1, backgrounds=bgs, activates=acts, max_activates=2)
    assert quiet.emb.shape[0] == 2 and quiet.emb.shape[2] == 96 and quiet.word_ends_s == [[], []]
    assert all(0 < e < 10 for ends in said.word_ends_s for e in ends)
    noisy = D.embedded_noisy_examples((acts, negs, bgs), 2, rng=0, kinds=("music", "dishes"))
    assert noisy.emb.shape[:1] == (2,) and all(0 < e <= 10 for ends in noisy.word_ends_s for e in ends)
    assert any(noisy.word_ends_s), "rng=0 says the word somewhere, so the next line can tell"
    crowd = D.embedded_noisy_examples(
        (acts, negs, bgs), 2, rng=0, talk=(sentences, voices), p_talk=1.0, p_diffuse=1.0
    )
    assert crowd.emb.shape[:1] == (2,) and not np.allclose(crowd.emb, noisy.emb)
    none = D.embedded_noisy_examples((acts, negs, bgs), 2, rng=0, kinds=("music",), n_activates=0)
    assert none.emb.shape[:1] == (2,) and none.word_ends_s == [[], []]
    X, y, w = D.training_arrays(quiet + said)
    assert y.max() == (1.0 if any(said.word_ends_s) else 0.0) and len(X) == len(y) == len(w)


def test_talk_report_scores_any_detector_by_its_rule_with_overrides():
    from conftest import skip_without_embedding_detector

    skip_without_embedding_detector()
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio
    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.evaluation import iter_test_clips

    acts, negs, bgs = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    scene = [next(iter_test_clips((acts, negs, bgs), 1, seed=4, n_activates=3)), (bgs[0][: 5 * 44_100], [])]
    det = EmbeddingDetector.load()
    report = talk_eval.talk_report(det, iter(scene))  # segments may be a one-pass iterator
    own = talk_eval.score_stream_thresholds(det, scene, [det.rule.threshold])[det.rule.threshold]
    assert report["detector"] == "embedding" and report["hours"] == pytest.approx(15 / 3600)
    assert report["n_words"] == own.n_words == 3 and report["false_accepts"] == own.false_accepts
    assert (report["threshold"], report["patience"], report["refractory"]) == tuple(vars(det.rule).values())
    # a refractory longer than the scene lets it fire once at most: an override the talk's score obeys
    once = talk_eval.talk_report(det, scene, rule=det.rule.with_overrides(threshold=0.5, refractory=10_000))
    assert once["n_triggers"] <= 1 < report["n_triggers"] and once["refractory"] == 10_000


def _bench_talk():
    """``benchmarks/bench_talk.py`` as a module."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_talk", ROOT / "benchmarks" / "bench_talk.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_bench_talk_scores_noise_on_held_out_voices_without_shared(monkeypatch):
    """The SNR rows heads are chosen on are made from the project's own held-out audio, with or without
    ../shared: words in held-out TTS voices, and a crowd of held-out talkers."""
    import argparse

    bench = _bench_talk()
    crowd = [np.random.default_rng(i).standard_normal(SAMPLE_RATE).astype(np.float32) for i in range(2)]
    monkeypatch.setattr(talk_eval, "clean_talk_clips", lambda n, seed=0: crowd)  # no TTS needed here
    args = argparse.Namespace(hours=1.0, seed=0, snr=[10.0], noise_clips=1)
    scenes = bench.scenes(args)
    words, names = scenes["held-out TTS words at 10 dB SNR"], scenes["held-out TTS other words at 10 dB SNR"]
    assert words[1] != names[1]  # cached apart
    said, others = words[0](), names[0]()
    assert len(said) == len(others) == 2 * len(talk_eval.NOISE_KINDS)
    assert all(ends for _, ends in said) and not any(ends for _, ends in others)
    assert all(np.isfinite(audio).all() for audio, _ in said + others)


def test_clean_talk_clips_are_one_held_out_talker_without_background(pool):
    clips = talk_eval.clean_talk_clips(2, seed=3)
    assert len(clips) == 2 and all(c.shape == (10 * SAMPLE_RATE,) for c in clips)
    np.testing.assert_array_equal(clips[0], talk_eval.clean_talk_clips(1, seed=3)[0])
    frames = 10 * np.log10((clips[0].reshape(-1, 441) ** 2).mean(1) + 1e-12)
    assert (frames < -80).mean() > 0.02  # true silence between sentences: nothing is mixed under the talk


def _trade_row(test, detector, threshold, *, recall=None, fa=0, hours=0.0):
    return {
        "test": test,
        "detector": detector,
        "threshold": threshold,
        "recall": recall,
        "false_accepts": fa,
        "hours_without_word": hours,
    }


def test_trade_points_pool_each_false_accept_test_over_snrs_and_pair_it_with_recall_at_one_snr():
    bench = _bench_talk()
    rows = []
    for th, recall in ((0.9, 0.8), (0.5, 0.95)):
        rows += [
            _trade_row("generated talk, 5 h", "a", th, fa=2 if th == 0.9 else 10, hours=5.0),
            _trade_row("held-out TTS words at 10 dB SNR", "a", th, recall=recall, fa=1, hours=0.1),
            _trade_row("held-out TTS words at 0 dB SNR", "a", th, recall=0.1, hours=0.1),
        ]
        rows += [
            _trade_row(f"held-out TTS other words at {snr} dB SNR", "a", th, fa=fa, hours=0.5)
            for snr, fa in ((0, 1), (10, 2), (20, 3))
        ]
    rows.append(_trade_row("held-out talk in noise at 10 dB SNR", "a", 0.9, fa=1, hours=0.25))
    # b has a recall and no false-accept test: no point of it can be drawn
    rows.append(_trade_row("held-out TTS words at 10 dB SNR", "b", 0.9, recall=0.7, hours=0.1))
    points = bench.trade_points(rows, snr=10.0)
    assert list(points) == ["a"] and [p["threshold"] for p in points["a"]] == [0.5, 0.9]
    low, high = points["a"]
    assert high["recall"] == 0.8 and low["recall"] == 0.95  # the 10 dB row, not the 0 dB one
    assert high["fa_h"]["talk"] == pytest.approx(2 / 5) and low["fa_h"]["talk"] == pytest.approx(10 / 5)
    assert high["fa_h"]["words"] == pytest.approx(6 / 1.5)  # 1 + 2 + 3 firings in three half hours
    assert high["hours"]["words"] == pytest.approx(1.5)
    assert high["fa_h"]["noisy_talk"] == pytest.approx(4.0) and "noisy_talk" not in low["fa_h"]
    assert bench.trade_points(rows, snr=20.0) == {}


def test_plot_trade_draws_a_panel_per_false_accept_test_and_refuses_nothing_to_draw(tmp_path):
    import matplotlib.image

    bench = _bench_talk()
    point = {
        "threshold": 0.9,
        "recall": 0.8,
        "fa_h": {"talk": 0.0, "words": 4.0},
        "hours": {"talk": 5.0, "words": 1.5},
    }
    other = {**point, "threshold": 0.5, "recall": 0.9, "fa_h": {"talk": 3.0, "words": 9.0}}
    two = matplotlib.image.imread(
        bench.plot_trade({"embedding head (shipped)": [point, other]}, tmp_path / "2.png")
    )
    three_points = [
        {**q, "fa_h": {**q["fa_h"], "noisy_talk": 1.0}, "hours": {**q["hours"], "noisy_talk": 1.3}}
        for q in (point, other)
    ]
    three = matplotlib.image.imread(bench.plot_trade({"x": three_points}, tmp_path / "3.png"))
    assert two.shape[0] == three.shape[0] > 200 and three.shape[1] > 1.3 * two.shape[1]  # one panel more
    with pytest.raises(ValueError, match="--plot needs the held-out TTS words"):
        bench.plot_trade({}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_noisy_talk_segments_put_each_clip_under_one_kind_at_the_snr_and_say_no_word():
    rng = np.random.default_rng(0)
    voice = [
        np.concatenate(
            [np.zeros(SAMPLE_RATE, np.float32), 0.1 * rng.standard_normal(SAMPLE_RATE).astype(np.float32)]
        )
        for _ in range(4)
    ]
    crowd = [rng.standard_normal(3 * SAMPLE_RATE).astype(np.float32) for _ in range(3)]
    segs = talk_eval.noisy_talk_segments(voice, 10.0, kinds=("babble", "music"), babble_talk=crowd, rng=1)
    assert len(segs) == 4 and not any(ends for _, ends in segs)
    for audio, _ in segs:
        assert audio.shape == voice[0].shape and rms_db(audio) == pytest.approx(-20.0, abs=0.1)
        # the talker's second over its first (noise alone): 10 dB SNR, the noise steady across both
        assert rms_db(audio[SAMPLE_RATE:]) - rms_db(audio[:SAMPLE_RATE]) > 8.0
    np.testing.assert_array_equal(
        segs[0][0],
        talk_eval.noisy_talk_segments(voice, 10.0, kinds=("babble", "music"), babble_talk=crowd, rng=1)[0][0],
    )
    with pytest.raises(ValueError, match="kinds must name at least one"):
        talk_eval.noisy_talk_segments(voice, 10.0, kinds=())
    with pytest.raises(ValueError, match="at least one clip per kind"):
        talk_eval.noisy_talk_segments(voice[:1], 10.0, kinds=("babble", "music"), babble_talk=crowd)


def test_trade_plot_legend_names_heads_without_the_common_prefix():
    bench = _bench_talk()
    assert bench._legend_label("embedding head (shipped)") == "shipped"
    assert bench._legend_label("embedding head v16_more_din") == "v16 more din"
    assert bench._legend_label("lab network (shipped)") == "lab network (shipped)"


def test_bench_talk_refuses_a_plot_snr_it_does_not_measure(capsys):
    bench = _bench_talk()
    with pytest.raises(SystemExit) as stop:
        bench.main(["--plot", "x.png", "--plot-snr", "5", "--snr", "0", "10"])
    assert stop.value.code == 2 and "--plot-snr must be one of" in capsys.readouterr().err


def test_embedding_cache_parts_cut_a_scene_into_its_kinds_in_order():
    steps = [3, 4, 5, 6]
    emb = np.arange(sum(steps) * 96, dtype=np.float32).reshape(-1, 96)
    cache = talk_eval.EmbeddingCache(emb, steps, [1.0, 2.0, 3.0, 4.0], [[0.5], [], [1.5], []])
    first, second = cache.parts(2)
    np.testing.assert_array_equal(np.concatenate([first.emb, second.emb]), emb)
    assert list(first.seg_steps) == [3, 4] and list(second.seg_steps) == [5, 6]
    assert second.duration_s == 7.0 and list(second.word_ends_s()) == [1.5]  # times start at its own 0
    assert len(cache.parts(4)) == 4 and cache.parts(1)[0].emb.shape == emb.shape
    for bad in (3, 0, 2.0, True):
        with pytest.raises(ValueError, match="divides the 4 segments"):
            cache.parts(bad)


def test_bench_talk_scores_noise_kinds_apart_and_keeps_them_out_of_the_trade(tmp_path):
    import matplotlib.image

    bench = _bench_talk()
    assert bench.kind_parts(lambda n: list(range(n)), "generated talk, 5 h") == {}
    parts = bench.kind_parts(lambda n: [f"part {i}" for i in range(n)], "real words at 10 dB SNR")
    assert list(parts) == list(talk_eval.NOISE_KINDS) and parts["dishes"] == "part 1"
    rows = [
        {
            **_trade_row("held-out TTS words at 10 dB SNR", "a", 0.9, recall=0.8, fa=1, hours=0.1),
            "kind": None,
        },
        {**_trade_row("generated talk, 5 h", "a", 0.9, fa=2, hours=5.0), "kind": None},
    ]
    rows += [
        {**_trade_row(f"held-out TTS words at {snr} dB SNR", "a", 0.9, recall=r, hours=0.1), "kind": kind}
        for kind, r in zip(talk_eval.NOISE_KINDS, (0.3, 0.9, 0.95, 1.0))
        for snr in (0, 10)
    ]
    rows.append({**_trade_row("real words at 10 dB SNR", "a", 0.9, recall=0.4, hours=0.1), "kind": "babble"})
    points = bench.trade_points(rows)
    assert points["a"][0]["recall"] == 0.8  # the whole scene's recall, not a kind's
    for r in rows:
        r.update(precision=r["recall"], words=10, false_accepts_per_hour=0.0)
    assert "| held-out TTS words at 10 dB SNR, babble | a |" in bench.format_rows(rows)
    drawn = matplotlib.image.imread(bench.plot_kinds(rows, tmp_path / "kinds.png"))
    assert drawn.shape[1] > 3 * drawn.shape[0] / 2  # four panels side by side
    with pytest.raises(ValueError, match="--plot-kinds needs the words-in-noise tests by kind"):
        bench.plot_kinds(rows[:2], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_bench_real_speech_scores_the_held_out_sets_alone(tmp_path, monkeypatch, capsys):
    """``--sets heldout`` scores heads on the project's own held-out voices without one real row, even
    where ../shared/real_speech is there; with the default, a missing ../shared leaves only the real sets out."""
    import importlib.util

    from conftest import ROOT, skip_without_embedding_detector

    skip_without_embedding_detector()
    spec = importlib.util.spec_from_file_location("brs", ROOT / "benchmarks" / "bench_real_speech.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    small = ["--n", "2", "--n-negative", "2", "--detectors", "embedding", "--padding", "padded"]
    out = tmp_path / "rows.json"
    assert bench.main([*small, "--sets", "heldout", "--thresholds", "0.95", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["test set"] for r in rows} == {"heldout TTS", "heldout TTS, no word"}
    assert sum(r["words"] for r in rows if r["test set"] == "heldout TTS") > 0
    monkeypatch.setattr(bench, "real_speech_dir", lambda: None)  # as on a machine without ../shared
    assert bench.main([*small, "--thresholds", "0.95", "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert {r["test set"] for r in saved["rows"]} == {"heldout TTS", "heldout TTS, no word"}
    assert any("held-out sets only" in note for note in saved["notes"])
    capsys.readouterr()
    assert bench.main([*small, "--sets", "real"]) == 0
    assert capsys.readouterr().out.startswith("skipped: ../shared/real_speech")
