"""Golden files for every format from fixed TrialResults (pure: no MLflow). UPDATE_GOLDEN=1 rewrites."""

from __future__ import annotations

import json
import math
import os
import statistics

import pytest

from orchestrator.registry import metric_groups
from orchestrator.tables import (Style, TableError, UnknownMetric, build_pivot, build_table, expand_metrics,
                                 render)
from tests.conftest import ROOT
from tests.orchestrator.tables.fixtures import record, trial

GOLDEN = ROOT / "tests" / "orchestrator" / "golden" / "tables"
EXT = {"md": "md", "latex": "tex", "csv": "csv", "html": "html", "json": "json"}


def columns(names, rec=None, per_class=False):
    rec = rec or record()
    logged = {k for t in rec.trials for k in t.history}
    params = {k for t in rec.trials for k in t.params}
    return expand_metrics(names, logged, params, rec.metric, rec.mode, per_class, metric_groups(rec.trainer))


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("fmt", list(EXT))
def test_pckh_table_every_format(fmt):
    table = build_table(record(), columns(["pckh"]))
    check(f"pckh.{EXT[fmt]}", render(table, fmt))


@pytest.mark.parametrize("fmt", list(EXT))
def test_pivot_every_format(fmt):
    pivot = build_pivot(record(), columns(["Mean"])[0], "pointMaxW", "probMargin")
    check(f"pivot.{EXT[fmt]}", render(pivot, fmt))


def test_series_and_baseline_and_min_mode():
    table = build_table(record(), columns(["Mean", "train/loss", "model/params"]), at="last",
                        baseline="p0m0", series=False)
    check("baseline.md", render(table, "md"))
    series = build_table(record(), columns(["Mean"]), series=True)
    check("series.md", render(series, "md"))


def test_seed_average_is_mean_and_sample_std_at_the_best_step():
    rec = record()
    table = build_table(rec, columns(["pckh"]))
    row = next(r for r in table.rows if r.label == "p0m0.8")
    # best val/Mean is at step 3 for base 84 (no dip); Head is read at that same step
    heads = [84 + 6 + 6 + 0.25 * s for s in (0, 1)]
    cell = row.cells[0]
    assert cell.mean == pytest.approx(statistics.fmean(heads))
    assert cell.std == pytest.approx(statistics.stdev(heads)) and cell.n == 2
    dipped = next(r for r in table.rows if r.label == "p1m0")  # base 86 dips at step 3: best is 2
    assert dipped.cells[7].mean == pytest.approx(86 + 4) and dipped.cells[7].failed == 1


def test_failed_and_diverged_are_shown_not_dropped():
    table = build_table(record(), columns(["Mean"]))
    labels = [r.label for r in table.rows]
    assert labels == ["p0m0", "p0m0.8", "p1m0", "p1m0.8"]
    text = render(table, "md")
    assert "| 1 | 0.8 | nan (2 of 2 diverged) |" in text  # the axes name the row: no setting column
    assert "| 90.00 (1 of 2 failed) |" in text


def test_bold_best_respects_the_mode():
    table = build_table(record(), columns(["Mean", "train/loss"]), at="last")
    best_mean = [r.label for r in table.rows if r.cells[0].best]
    best_loss = [r.label for r in table.rows if r.cells[1].best]
    assert best_mean == ["p0m0.8"]  # max: 90.12 at the last step (p1m0 dips to 89)
    # min: 0.2335 is the smallest loss; p1m0 has the largest (0.2591), bold if mode were max
    assert best_loss == ["p0m0.8"]
    losses = {r.label: r.cells[1].mean for r in table.rows if r.cells[1].mean is not None}
    assert max(losses, key=losses.get) == "p1m0"


def test_at_step_and_last():
    step1 = build_table(record(), columns(["Mean"]), at="step:1")
    assert step1.rows[0].cells[0].mean == pytest.approx(80 + 2 + 0.125)
    last = build_table(record(), columns(["Mean"]), at="last")
    assert last.rows[2].cells[0].mean == pytest.approx(86 + 6 - 3)
    with pytest.raises(TableError, match="best, last or step:N"):
        build_table(record(), columns(["Mean"]), at="epoch3")


def test_a_metric_logged_less_often_reads_its_latest_value_at_the_chosen_step():
    """300 epochs of val/Mean, val/Slow every 25th epoch from the 25th: --at best (epoch 160) and
    --at step:N read val/Slow's point at or before that epoch; before its first point, nothing."""
    from dataclasses import replace

    from orchestrator.tables.groups import Column

    mean = tuple((s, 50.0 - abs(s - 160) / 10) for s in range(1, 301))
    slow = tuple((s, float(s)) for s in range(25, 301, 25))
    one = replace(trial(0, 0, 0, 80), history={"val/Mean": mean, "val/Slow": slow}, metrics={})
    rec = replace(record(), trials=(one,))
    cols = [Column("val/Mean", "Mean", "val", "max"), Column("val/Slow", "Slow", "val", "max")]

    def cells(at):
        return [c.mean for c in build_table(rec, cols, at=at).rows[0].cells]

    assert cells("best") == [50.0, 150.0]
    assert cells("last") == [mean[-1][1], 300.0]
    assert cells("step:300") == [mean[-1][1], 300.0]
    assert cells("step:74") == [mean[73][1], 50.0]
    assert cells("step:25") == [mean[24][1], 25.0]
    assert cells("step:24") == [mean[23][1], None]


def test_unknown_metric_and_bad_pivot_and_baseline():
    with pytest.raises(UnknownMetric, match="did you mean"):
        columns(["Meen"])
    with pytest.raises(TableError, match="not an axis"):
        build_pivot(record(), columns(["Mean"])[0], "pointMaxW", "t")
    with pytest.raises(TableError, match="no such row"):
        build_table(record(), columns(["Mean"]), baseline="p9m9")


def test_pivot_refuses_to_mix_settings():
    rec = record()
    extra = trial(0, 0, 0, 81)
    extra = type(extra)(**{**extra.__dict__, "setting": "other", "axes": {**extra.axes, "t": 5}})
    mixed = type(rec)(**{**rec.__dict__, "axes": rec.axes + ("t",), "trials": rec.trials + (extra,)})
    with pytest.raises(TableError, match="other axes vary"):
        build_pivot(mixed, columns(["Mean"])[0], "pointMaxW", "probMargin")


def test_json_rows_for_scripts():
    rows = json.loads(render(build_table(record(), columns(["pckh"])), "json"))
    assert [r["setting"] for r in rows] == ["p0m0", "p0m0.8", "p1m0", "p1m0.8"]
    mean = rows[0]["metrics"]["val/Mean"]
    assert set(mean) >= {"mean", "std", "n"} and mean["n"] == 2 and rows[0]["axes"] == {
        "pointMaxW": 0, "probMargin": 0}
    assert rows[3]["metrics"]["val/Mean"]["mean"] is None and rows[3]["metrics"]["val/Mean"]["nan"] == 2
    assert not any(isinstance(v, float) and math.isnan(v) for v in mean.values())


def test_miou_group_adds_the_other_eval_modes_and_distinct_class_headers():
    logged = {"val/mIoU", "val/mIoU_ss", "val/mIoU_ms_flip", "val/iou/traffic sign", "val/iou/road",
              "val/iou/traffic light", "train/loss"}
    plain = expand_metrics(["miou"], logged, set(), "val/mIoU", "max", groups=metric_groups("seg"))
    assert [c.key for c in plain] == ["val/mIoU", "val/mIoU_ms_flip"]
    assert plain[1].label == "mIoU MS+flip" and plain[1].mode == "max"
    per_class = expand_metrics(["miou"], logged, set(), "val/mIoU", "max", per_class=True,
                               groups=metric_groups("seg"))
    assert [c.key for c in per_class][2:] == ["val/iou/road", "val/iou/traffic light", "val/iou/traffic sign"]
    assert [c.latex for c in per_class][2:] == ["Road", "TLight", "TSign"]


def test_at_a_step_past_every_history_names_the_last_step():
    with pytest.raises(TableError, match=r"--at step:99: no trial logged that far; the last step logged is \d+"):
        build_table(record(), columns(["Mean"]), at="step:99")


def test_runs_of_an_earlier_version_of_the_sweep_file_are_not_averaged_in_as_seeds():
    import dataclasses

    from orchestrator.analysis.publish import TableRequest, build

    base = record()
    plan = tuple({"name": t.name, "key": t.key, "seed": t.seed, "axes": dict(t.axes)} for t in base.trials)
    # the same setting and seed run again after a default changed: a new key, the old run stays
    old = dataclasses.replace(base.trials[0], run_id="old-run", key="k-before", history={
        k: tuple((s, v - 30) for s, v in h) for k, h in base.trials[0].history.items()})
    rec = dataclasses.replace(base, trials=(old, *base.trials), plan=plan)
    _, table = build(TableRequest("msssm_margin", ("Mean",)), rec)
    _, without = build(TableRequest("msssm_margin", ("Mean",)), dataclasses.replace(base, plan=plan))
    cells = {r.label: [c.values for c in r.cells] for r in table.rows}
    assert cells == {r.label: [c.values for c in r.cells] for r in without.rows}
    assert any("Left out: 1 run(s) of an earlier version" in n and "p0m0_s0" in n for n in table.notes)
    assert not without.notes


def test_distributed_trials_with_a_scaled_lr_say_so_under_the_table():
    import dataclasses

    from orchestrator.analysis.publish import TableRequest, build
    from orchestrator.tables.render import render

    base = record()
    scaled = tuple(dataclasses.replace(t, params={**t.params, "optim.lr": "0.01", "optim.lr_scale": "linear",
                                                  "dist.world_size": "2", "dist.lr": "0.02"})
                   if t.axes["pointMaxW"] == 1 else t for t in base.trials)
    _, table = build(TableRequest("msssm_margin", ("Mean",)), dataclasses.replace(base, trials=scaled))
    line = ("optim.lr is the one-worker lr, scaled by the number of workers (optim.lr_scale) where set: "
            "linear: 0.01 on 2 workers ran as 0.02.")
    assert line in table.notes and line in render(table, "md")
    _, plain = build(TableRequest("msssm_margin", ("Mean",)), base)
    assert not any("lr_scale" in n for n in plain.notes)


def test_metric_names_match_without_case_or_by_their_last_part_and_say_so():
    logged = {"val/Mean", "val/Mean@0.1", "train/loss", "val/Head", "train/head_loss"}
    params = {"model.backbone", "loss.name"}
    [mean] = expand_metrics(["mean"], logged, params, "val/Mean", "max")
    assert (mean.key, mean.label, mean.note) == ("val/Mean", "Mean", "what --metric mean named")
    [backbone] = expand_metrics(["Backbone"], logged, params, "val/Mean", "max")
    assert backbone.key == "model.backbone" and backbone.is_param
    [head] = expand_metrics(["HEAD"], logged, params, "val/Mean", "max")  # val/Head, not train/head_loss
    assert head.key == "val/Head"
    with pytest.raises(UnknownMetric, match="--metric NAME is ambiguous: it matches loss.name, val/name"):
        expand_metrics(["NAME"], logged | {"val/name"}, params, "val/Mean", "max")


def test_the_setting_column_shows_only_when_the_axes_do_not_name_the_row():
    rec = record()
    grid = render(build_table(rec, columns(["Mean"])), "md")
    assert grid.startswith("| pointMaxW | probMargin | Mean |")  # p0m0.8 only repeats 0 and 0.8
    named = type(rec)(**{**rec.__dict__, "trials": tuple(
        type(t)(**{**t.__dict__, "setting": f"point-{i // 2}"}) for i, t in enumerate(rec.trials))})
    table = build_table(named, columns(["Mean"]))
    assert render(table, "md").startswith("| setting | pointMaxW | probMargin | Mean |")  # a search's point names
    assert render(build_table(rec, columns(["Mean"])), "md", Style(label="Arch")).startswith(
        "| Arch | pointMaxW | probMargin | Mean |")  # a column the user named stays
    assert render(build_table(rec, columns(["Mean"])), "csv").startswith("setting,pointMaxW,probMargin,Mean,")
