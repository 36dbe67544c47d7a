"""Expansion counts, precedence, names and identity: what a researcher's sweep turns into."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT

NOTES_GRID = """
trainer: toy
grid:
  pointMaxW: [0, 1]
  probMargin: [.7, .8, .9]
  rs: [[3, 1], [8, 4, 2, 1]]
  t: [1, 50]
abbrev: {pointMaxW: p, probMargin: m, rs: rs, t: t}
"""


def test_notes_grid_gives_24_named_trials(write):
    spec = load_sweep(write("notes.yaml", NOTES_GRID))
    assert len(spec.trials) == 24
    names = [t.name for t in spec.trials]
    assert len(set(names)) == 24
    assert "p0m0.7rs8421t1" in names and "p1m0.9rs31t50" in names
    assert spec.axes == ("pointMaxW", "probMargin", "rs", "t")
    trial = next(t for t in spec.trials if t.name == "p1m0.8rs31t50")
    assert dict(trial.axes) == {"pointMaxW": 1.0, "probMargin": 0.8, "rs": [3, 1], "t": 50.0}
    assert trial.config["rs"] == [3, 1] and trial.config["t"] == 50.0


def test_union_of_subgrids_counts_each_subgrid(write):
    spec = load_sweep(write("union.yaml", """
        trainer: toy
        grid:
          - {t: [7, 10, 12], pointMaxW: [0, 1]}
          - {lr: [1.0e-2, 1e-4]}
    """))
    assert len(spec.trials) == 3 * 2 + 2
    lr_trials = [t for t in spec.trials if t.config["lr"] != 1e-3]
    assert {t.config["lr"] for t in lr_trials} == {1e-2, 1e-4}
    assert all(t.config["t"] == 10.0 for t in lr_trials)
    # every trial shows every varied axis, resolved, so tables get full columns
    assert all(set(t.axes) == {"t", "pointMaxW", "lr"} for t in spec.trials)


def test_zip_variants_and_seeds_multiply(write):
    spec = load_sweep(write("mix.yaml", """
        trainer: toy
        grid: {t: [7, 10]}
        zip:
          pointMaxW: [0, 1, 4]
          probMargin: [0, .5, .8]
        variants:
          short: {epochs: 2}
          long: {epochs: 8, lr: 2.0e-3}
        seeds: 3
    """))
    assert len(spec.trials) == 2 * 3 * 2 * 3
    pairs = {(t.config["pointMaxW"], t.config["probMargin"]) for t in spec.trials}
    assert pairs == {(0.0, 0.0), (1.0, 0.5), (4.0, 0.8)}
    long = [t for t in spec.trials if t.axes["variant"] == "long"]
    assert len(long) == 18 and all(t.config["epochs"] == 8 and t.config["lr"] == 2e-3 for t in long)
    assert {t.seed for t in spec.trials} == {0, 1, 2}
    assert all(t.config["seed"] == t.seed and t.name == f"{t.setting}_s{t.seed}" for t in spec.trials)
    assert len({t.setting for t in spec.trials}) == 12


def test_seed_list(write):
    spec = load_sweep(write("s.yaml", "trainer: toy\nseeds: [3, 7]\n"))
    assert [t.seed for t in spec.trials] == [3, 7]


def test_exclude_removes_exactly_the_matching_trials(write):
    spec = load_sweep(write("ex.yaml", """
        trainer: toy
        grid: {t: [10, 50], pointMaxW: [0, 1, 4]}
        seeds: 2
        exclude:
          - {t: 50, pointMaxW: 1}
          - {pointMaxW: 4, seed: 1}
    """))
    kept = {(t.config["t"], t.config["pointMaxW"], t.seed) for t in spec.trials}
    full = {(t, p, s) for t in (10.0, 50.0) for p in (0.0, 1.0, 4.0) for s in (0, 1)}
    dropped = {(50.0, 1.0, 0), (50.0, 1.0, 1), (10.0, 4.0, 1), (50.0, 4.0, 1)}
    assert kept == full - dropped


def test_exclude_by_variant(write):
    spec = load_sweep(write("exv.yaml", """
        trainer: toy
        grid: {t: [7, 10]}
        variants: {a: {epochs: 2}, b: {epochs: 3}}
        exclude: [{variant: b, t: 7}]
    """))
    assert sorted(t.name for t in spec.trials) == ["t10_a", "t10_b", "t7_a"]


def test_precedence_defaults_base_params_axes_set(write, tmp_path):
    write("configs/root.yaml", "epochs: 9\nlr: 0.5\nsleep: 0.25\npointMaxW: 3\n")
    write("configs/child.yaml", "extends: root.yaml\nlr: 0.1\n")
    path = write("prec.yaml", """
        trainer: toy
        base: [configs/child.yaml, {sleep: 0.5}]
        params: {pointMaxW: 2, probMargin: .1}
        grid: {probMargin: [.2, .3]}
    """)
    spec = load_sweep(path, overrides=["epochs=1"])
    for trial in spec.trials:
        c = trial.config
        assert c["t"] == 10.0  # schema default
        assert c["lr"] == 0.1  # child base overrides the base it extends
        assert c["sleep"] == 0.5  # inline base after the file
        assert c["pointMaxW"] == 2.0  # params over base
        assert c["epochs"] == 1  # --set over everything
    assert [t.config["probMargin"] for t in spec.trials] == [0.2, 0.3]  # axes over params


def test_set_on_an_axis_pins_it(write):
    path = write("pin.yaml", "trainer: toy\ngrid: {t: [7, 10, 12], lr: [1.0e-3, 1.0e-2]}\n")
    spec = load_sweep(path, overrides=["t=13"])
    assert len(spec.trials) == 2 and all(t.config["t"] == 13.0 for t in spec.trials)


def test_yaml_12_floats_and_set_typing(write):
    spec = load_sweep(write("f.yaml", "trainer: toy\nparams: {lr: 1e-4}\n"),
                      overrides=["rs=[3,1]", "fail_at_epoch=null"])
    cfg = spec.trials[0].config
    assert cfg["lr"] == 1e-4 and cfg["rs"] == [3, 1] and cfg["fail_at_epoch"] is None


def test_placeholders_fill_from_config_and_trial(write, tmp_path):
    # the toy trainer has no string parameter: use a trainer registered only for this test
    from tests.orchestrator.sweepfile.strtrainer import registered

    with registered():
        spec = load_sweep(write("ph.yaml", """
            trainer: _strtest
            params: {out: "runs/{sweep}/{name}", tag: "t={t:.1f} rs={rs} {{literal}}"}
            grid: {t: [7, 10]}
        """))
    assert [t.config["out"] for t in spec.trials] == ["runs/ph/t7", "runs/ph/t10"]
    assert spec.trials[0].config["tag"] == "t=7.0 rs=8,4,2,1 {literal}"


def test_trial_key_is_stable_and_depends_on_what_matters(write):
    a = load_sweep(write("a.yaml", "trainer: toy\nparams: {t: 10}\nseeds: [0, 1]\n"))
    b = load_sweep(write("b.yaml", "name: other\ntrainer: toy\nparams: {t: 10.0}\nseeds: [0, 1]\n"))
    # same trainer, config and seed -> same key, whatever the sweep or file is called
    assert [t.key for t in a.trials] == [t.key for t in b.trials]
    assert a.trials[0].key != a.trials[1].key  # seeds differ
    # golden: identical across runs, machines and Python versions
    assert a.trials[0].key == "020066860c957312"
    c = load_sweep(write("c.yaml", "trainer: toy\nparams: {t: 10}\nstop: {max_epochs: 2}\n"))
    assert c.trials[0].key != a.trials[0].key  # a shorter budget is a different result


def test_profiles_overlay_params_and_replace_grid(write):
    path = write("p.yaml", """
        trainer: toy
        params: {epochs: 50, lr: 2.0e-3}
        grid: {t: [7, 10, 12, 13]}
        profiles:
          smoke: {params: {epochs: 1}, grid: {t: [7]}}
    """)
    spec = load_sweep(path, profile="smoke")
    assert len(spec.trials) == 1
    assert spec.trials[0].config["epochs"] == 1 and spec.trials[0].config["lr"] == 2e-3


def test_a_profile_merges_nested_groups_key_by_key(write):
    path = write("n.yaml", """
        trainer: pose
        params:
          model: {backbone: resnet18, deconv: [64, 64, 64]}
          data: {input_size: [64, 64], synth_train: 800, sigma: 1.5}
        profiles:
          smoke: {params: {data: {synth_train: 32}, model: {deconv: [32, 32, 32]}}}
    """)
    config = load_sweep(path, profile="smoke").trials[0].config
    # the group's other keys stay as the file sets them (not the trainer's defaults: 256x256, resnet50)
    assert config["data.synth_train"] == 32 and config["data.input_size"] == [64, 64]
    assert config["data.sigma"] == 1.5 and config["model.backbone"] == "resnet18"
    assert config["model.deconv"] == [32, 32, 32]


def test_run_settings_are_parsed(write):
    spec = load_sweep(write("r.yaml", """
        name: msssm
        trainer: toy
        resources: {gpu: 0.5, cpu: 8, memory: 80G, max_concurrent: 4, custom: {big: 1}}
        metric: {name: val/Mean@0.1, mode: max}
        stop: {max_epochs: 3, on_nan: continue}
        retries: 2
        scheduler: {name: asha, grace_period: 1}
        tracking: {experiment: msssm-ablation}
    """))
    assert (spec.resources.gpu, spec.resources.cpu, spec.resources.memory) == (0.5, 8.0, 80 * 10**9)
    assert dict(spec.resources.custom) == {"big": 1.0} and spec.max_concurrent == 4
    assert (spec.metric, spec.mode) == ("val/Mean@0.1", "max")
    assert (spec.stop.max_epochs, spec.stop.on_nan, spec.retries) == (3, "continue", 2)
    assert spec.scheduler.name == "asha" and dict(spec.scheduler.options) == {"grace_period": 1}
    assert spec.experiment == "msssm-ablation"


def test_defaults_when_settings_are_absent(write):
    spec = load_sweep(write("min.yaml", "trainer: toy\n"))
    assert [t.name for t in spec.trials] == ["default"]
    assert (spec.metric, spec.mode, spec.experiment, spec.retries) == ("val/Mean", "max", "min", 0)
    assert spec.resources.cpu == 1.0 and spec.resources.gpu == 0.0


@pytest.mark.parametrize("sweep", ["toy_grid.yaml", "toy_quickstart.yaml", "quickstart.yaml"])
def test_golden_json(sweep):
    """The JSON of --dry-run --format json for shipped sweeps; UPDATE_GOLDEN=1 rewrites."""
    spec = load_sweep(ROOT / "sweeps" / sweep)
    got = json.dumps(spec.to_dicts(), indent=1, sort_keys=True)
    golden = ROOT / "tests" / "orchestrator" / "golden" / sweep.replace(".yaml", ".json")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got + "\n")
    assert got + "\n" == golden.read_text()


def test_spec_is_pure():
    code = (
        "import sys; from orchestrator.sweepfile import load_sweep; "
        f"s = load_sweep({str(ROOT / 'sweeps' / 'toy_grid.yaml')!r}); "
        "heavy = [m for m in ('ray', 'mlflow', 'torch', 'pandas') if m in sys.modules]; "
        "print(len(s.trials), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "24 []"
