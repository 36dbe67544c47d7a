"""Paper-ready tables and significance over seeds (pure: fixed TrialResults, no MLflow).
Golden files under golden/tables/paper_*; UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from orchestrator.analysis.records import SweepRecord, TrialResult
from orchestrator.tables import Style, TableError, build_pivot, build_table, render
from orchestrator.tables.stats import BOOTSTRAP_SEED, RESAMPLES
from tests.orchestrator.tables.test_tables import check, columns

# three settings with known per-seed values: a clear winner, one within noise of it, one far behind
SEEDS = {"a": [70.0, 71.0, 72.0, 73.0], "b": [71.5, 72.5, 73.0, 74.5], "c": [60.0, 60.5, 61.5, 62.0]}


def _trial(setting: str, seed: int, value: float, **extra) -> TrialResult:
    params = {"model.width": "32", "train.batch_size": "32", **extra.pop("params", {})}
    return TrialResult(
        run_id=f"r-{setting}{seed}", name=f"{setting}_s{seed}", setting=setting, key=f"k{setting}{seed}",
        seed=seed, status=extra.pop("status", "finished"), axes={"loss.variant": setting},
        params=params, metrics={"val/Mean": value, "model/params": 1.2e6},
        history={"val/Mean": ((1, value - 5), (2, value)), "model/params": ((2, 1.2e6),)}, **extra)


def seeds_record(values=SEEDS, **changes) -> SweepRecord:
    trials = tuple(_trial(s, i, v) for s, vs in values.items() for i, v in enumerate(vs))
    fields = dict(name="seeds", run_id="p", experiment_id="1", status="FINISHED", start_time=0, trainer="pose",
                  metric="val/Mean", mode="max", axes=("loss.variant",), planned=len(trials), trials=trials)
    return SweepRecord(**{**fields, **changes})


def _cell(table, label, index=0):
    return next(r for r in table.rows if r.label == label).cells[index]


def test_p_values_are_scipys_and_intervals_scipys_within_resampling_error():
    rec = seeds_record()
    table = build_table(rec, columns(["Mean"], rec))
    assert _cell(table, "b").best and not _cell(table, "a").best
    for label in ("a", "c"):
        test = _cell(table, label).test
        assert test.against == "b"
        a, b = np.array(SEEDS[label]), np.array(SEEDS["b"])
        assert test.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)
        boot = stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), n_resamples=RESAMPLES,
                               method="percentile", vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED))
        # the same method and resample count as scipy's, other draws: equal within Monte-Carlo error
        width = boot.confidence_interval.high - boot.confidence_interval.low
        assert test.ci == pytest.approx((boot.confidence_interval.low, boot.confidence_interval.high),
                                        abs=0.03 * width)
        assert test.diff == pytest.approx(a.mean() - b.mean())
    assert _cell(table, "a").test.tie and not _cell(table, "c").test.tie  # p = 0.19 and p < 0.001
    assert _cell(table, "b").test is None  # the best is the reference
    text = render(table, "md")
    assert "| a | 71.50 ± 1.29† (n=4) |" in text and "| c | 61.00 ± 0.91 (n=4) |" in text
    assert "† not significantly different from its column's best" in text and "little power" not in text
    data = json.loads(render(table, "json"))
    entry = next(r for r in data if r["setting"] == "a")["metrics"]["val/Mean"]
    assert entry["vs"] == "b" and entry["p_value"] == pytest.approx(_cell(table, "a").test.p_value, abs=1e-6)
    assert entry["diff_ci"] == pytest.approx(list(_cell(table, "a").test.ci), abs=1e-6) and entry["tie"] is True


def test_two_seeds_print_the_few_seeds_note_and_one_seed_is_not_tested():
    two = seeds_record({k: v[:2] for k, v in SEEDS.items()})
    text = render(build_table(two, columns(["Mean"], two)), "md")
    assert "rest on 2 seeds a side (fewer than 3)" in text
    one = seeds_record({k: v[:1] for k, v in SEEDS.items()})
    table = build_table(one, columns(["Mean"], one))
    assert all(r.cells[0].test is None for r in table.rows)
    assert "Welch" not in render(table, "md")


def test_ci_shows_the_t_interval_half_width():
    rec = seeds_record()
    table = build_table(rec, columns(["Mean"], rec), ci=0.95)
    values = SEEDS["c"]
    expected = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / math.sqrt(4)
    assert _cell(table, "c").half == pytest.approx(expected)
    assert f"| c | 61.00 ± {expected:.2f} (n=4) |" in render(table, "md")


def test_baseline_is_the_reference_and_the_delta_carries_its_interval():
    rec = seeds_record()
    table = build_table(rec, columns(["Mean"], rec), baseline="a")
    assert _cell(table, "b").test.against == "a" and _cell(table, "b").test.tie
    assert not _cell(table, "c").test.tie and _cell(table, "a").test is None
    text = render(table, "md")
    assert "the baseline row a" in text and "| -10.50 [" in text and "| +0.00 |" in text


def paper_record() -> SweepRecord:
    """Two axes with abbreviations, a tie for the best, a diverged cell, an OOM-halved batch."""
    values = {(1, 0.2): [80.0, 80.0], (1, 0.8): [84.0, 84.0], (2, 0.2): [84.0, 84.0], (2, 0.8): [70.0, 72.0]}
    trials = []
    for (w, m), vs in values.items():
        for seed, v in enumerate(vs):
            status = "diverged" if (w, m) == (2, 0.8) and seed == 1 else "finished"
            extra = {"oom.train.batch_size": "16"} if (w, m) == (2, 0.2) else {}
            t = _trial(f"w{w}m{m:g}", seed, math.nan if status == "diverged" else v, status=status,
                       params={"train.batch_size": "32", **extra})
            trials.append(TrialResult(**{**t.__dict__, "axes": {"loss.pointMaxW": w, "loss.probMargin": m}}))
    return SweepRecord(name="paper", run_id="p", experiment_id="1", status="FINISHED", start_time=0, trainer="pose",
                       metric="val/Mean", mode="max", axes=("loss.pointMaxW", "loss.probMargin"), planned=8,
                       trials=tuple(trials), abbrev={"loss.pointMaxW": "pointW", "loss.probMargin": "margin"})


def test_paper_table_golden_label_abbrev_booktabs_ties_diverged_oom():
    rec = paper_record()
    table = build_table(rec, columns(["Mean", "model/params", "train.batch_size"], rec), digits=1)
    assert not any(r.cells[0].best for r in table.rows)  # 84.0 twice: a tie is not a best
    assert not any(r.cells[1].best for r in table.rows)  # model/params describes, never bold
    md = render(table, "md", Style(label="Arch"))
    assert md.startswith("| Arch | pointW | margin | Mean | model/params | train.batch_size |")
    assert "| 70.0 (1 of 2 diverged) |" in md
    assert "16‡" in md and "the sweep asked for 32" in md
    check("paper.md", md)
    tex = render(table, "latex", Style(label="Arch"))
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and "(n=" not in tex
    assert "(n=2)" in render(table, "latex", Style(counts=True))
    check("paper.tex", tex)


def test_pivot_headers_from_abbrev_unique_best_and_second():
    rec = paper_record()
    pivot = build_pivot(rec, columns(["Mean"], rec)[0], "loss.pointMaxW", "loss.probMargin")
    md = render(pivot, "md", Style(second=True))
    assert md.startswith("| pointW \\ margin | 0.2 | 0.8 |")
    flat = [c for row in pivot.cells for c in row]
    assert not any(c.best for c in flat) and not any(c.second for c in flat)  # the best is a tie
    check("paper_pivot.md", md)
    rec2 = seeds_record()
    table = build_table(rec2, columns(["Mean"], rec2))
    assert _cell(table, "a").second and "<u>71.50" in render(table, "md", Style(second=True))
    assert "<u>" not in render(table, "md")


def test_one_precision_per_column_and_digits():
    rec = seeds_record({"a": [0.3771, 0.3], "b": [12.24, 11.0]})
    table = build_table(rec, columns(["Mean"], rec))
    assert table.digits == (3,)  # three significant digits of the smallest value, for the whole column
    md = render(table, "md")
    assert "| a | 0.339 ± 0.055" in md and "| b | **11.620 ± 0.877" in md
    assert "| b | **11.6 ± 0.9" in render(build_table(rec, columns(["Mean"], rec), digits=1), "md")


def test_at_step_past_the_end_names_the_last_step():
    rec = seeds_record()
    with pytest.raises(TableError, match="last step logged is 2"):
        build_table(rec, columns(["Mean"], rec), at="step:99")
