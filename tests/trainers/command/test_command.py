"""The command trainer on real scripts from tests/fixtures/ (no Ray): argv, metrics, failures, kills."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from orchestrator.sweepfile import Schema, load_sweep
from tests.conftest import ROOT
from trainers.command.config import Config
from trainers.command.train import CommandFailed, train

FIXTURES = ROOT / "tests" / "fixtures"


def config(command, **kw) -> Config:
    return Schema(Config).build({**Schema(Config).defaults(), "command": command, **kw})


def run(command, **kw):
    reports = []
    final = train(config(command, **kw), lambda m, s: reports.append((s, m)))
    return reports, final


def test_notes_table_becomes_metrics_at_each_epoch():
    reports, final = run([sys.executable, str(FIXTURES / "notes_train.py"), "--cfg", "a.yaml", "--t", "10"])
    assert [s for s, _ in reports] == [0, 1, 2]
    assert reports[2][1]["val/Mean"] == pytest.approx(80.0) and reports[2][1]["val/Mean@0.1"] == pytest.approx(32.0)
    assert final["val/Head"] == pytest.approx(86.0)


def test_posetrack_latex_rows():
    reports, _ = run([sys.executable, str(FIXTURES / "posetrack_eval.py")],
                     metrics=[{"type": "latex", "prefix": "posetrack/"}])
    # by meaning: the evaluator's short headers become the pckh group's names
    assert reports == [(1, {"posetrack/Head": 80.1, "posetrack/Shoulder": 79.9, "posetrack/Elbow": 72.3,
                            "posetrack/Wrist": 63.3, "posetrack/Hip": 70.6, "posetrack/Knee": 66.9,
                            "posetrack/Ankle": 61.0, "posetrack/Mean": 71.3})]


def test_kv_json_regex_and_the_report_client():
    reports, _ = run(["python", str(FIXTURES / "many_formats.py")], metrics=[
        {"type": "kv", "keys": ["loss", "lr"]}, {"type": "json"},
        {"type": "regex", "pattern": r"step (?P<step>\d+) top1 (?P<top1>[\d.]+)%"}])
    by_key: dict[str, list] = {}
    for step, metrics in reports:
        for k, v in metrics.items():
            by_key.setdefault(k, []).append((step, v))
    assert by_key["loss"] == [(1, 1.0), (2, 0.5)] and by_key["lr"] == [(1, 0.01), (2, 0.01)]
    assert by_key["val/mIoU"] == [(1, 41.0), (2, 42.0)]
    assert by_key["top1"] == [(1, 71.5), (2, 72.5)]
    assert by_key["client/score"] == [(1, 10.0), (2, 20.0)]
    assert len(by_key["client/final"]) == 1 and "acc" not in by_key


def test_the_report_client_does_nothing_outside_orch(tmp_path):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "ORCH_REPORT_FILE"}
    out = subprocess.run([sys.executable, str(FIXTURES / "many_formats.py")], capture_output=True,
                         text=True, env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert out.returncode == 0 and "loss=1.000" in out.stdout and list(tmp_path.iterdir()) == []


def test_exit_code_3_fails_with_the_stderr_tail():
    with pytest.raises(CommandFailed) as err:
        run([sys.executable, str(FIXTURES / "exit3.py")], tail_lines=5)
    message = str(err.value)
    assert "exited with code 3" in message and "device-side assert triggered" in message
    assert "stderr line 29" in message and "stderr line 20" not in message  # only the tail


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    pids_file = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="timeout: still running after 2s"):
        run([sys.executable, str(FIXTURES / "ignore_term.py"), str(pids_file)], timeout=2.0, grace=1.0)
    assert time.monotonic() - started < 15
    for pid in map(int, pids_file.read_text().split()):
        assert not _alive(pid), f"process {pid} outlived its trial"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_values_with_spaces_and_shell_metacharacters_arrive_as_one_argument(write, tmp_path):
    out = tmp_path / "argv.json"
    nasty = "a b; rm -rf / && echo $HOME `id` | cat > x 'q' \"dq\" *"
    sweep = write("argv.yaml", f"""
        name: argv
        trainer: command
        params:
          command: [python, {FIXTURES / "notes_train.py"}, --cfg, "{{cfg}}", --gpus, "{{gpus}}",
                    --epochs, "1", --argv-out, {out}]
          cfg: {json.dumps(nasty)}
        """)
    [trial] = load_sweep(sweep).trials
    cfg = Schema(Config).build(dict(trial.config))
    assert cfg.vars == {"cfg": nasty}
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    train(cfg, lambda m, s: None)
    seen = json.loads(out.read_text())
    assert seen["argv"][1] == nasty and seen["argv"].count(nasty) == 1
    assert not (tmp_path / "x").exists()


def test_gpus_expand_to_the_visible_devices(monkeypatch, tmp_path):
    out = tmp_path / "argv.json"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    run([sys.executable, str(FIXTURES / "notes_train.py"), "--cfg", "c", "--gpus", "{gpus}",
         "--epochs", "1", "--argv-out", str(out)], env={"WHICH": "{gpus}"})
    assert json.loads(out.read_text())["gpus"] == "0,1"


def test_unknown_placeholder_is_a_validation_error(write):
    from orchestrator.sweepfile import SpecError

    sweep = write("bad.yaml", """
        name: bad
        trainer: command
        params:
          command: [python, train.py, --t, "{tt}"]
          t: 10
        """)
    with pytest.raises(SpecError) as err:
        load_sweep(sweep)
    assert "unknown placeholder {tt}" in str(err.value.problems[0]) and "did you mean t" in str(err.value.problems[0])


def test_the_external_msssm_sweep_reads_the_training_loss_only():
    from orchestrator.registry import build_config
    from orchestrator.sweepfile import load_sweep
    from tests.conftest import ROOT

    spec = load_sweep(ROOT / "sweeps" / "external_msssm.yaml", profile="smoke")
    trial = spec.trials[0]
    reports: list = []
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    cwd = os.getcwd()
    os.chdir(ROOT)  # the smoke profile's command is relative to the repository
    try:
        train(build_config(trial.trainer, trial.config), lambda m, s: reports.append((s, dict(m))))
    finally:
        os.chdir(cwd)
    losses = [(step, m["train/loss"]) for step, m in reports if "train/loss" in m]
    assert losses and all(value < 1 for _, value in losses), losses  # never a Test: line's 4414.67
    assert losses[-1] == (2, 0.00033)  # the last training line printed, to its 5 decimals


class Recording:
    """A report with a progress channel, as orch's trials have."""

    def __init__(self):
        self.reports, self.positions = [], []

    def __call__(self, metrics, step):
        self.reports.append((step, metrics))

    def progress(self, i, n, **figures):
        self.positions.append((i, n, figures))


def test_a_scripts_epoch_progress_lines_become_live_positions(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("for e in range(2):\n"
                      "    for i in (10, 20):\n"
                      "        print(f'Epoch: [{e}][{i}/20]\\tTime 0.1s\\tLoss 0.00123', flush=True)\n"
                      "    print(f'Epoch [{e}][20/20] lr: 1e-3')\n")
    report = Recording()
    train(config([sys.executable, str(script)]), report)
    assert report.positions == [(10, 20, {"epoch": 0}), (20, 20, {"epoch": 0}), (20, 20, {"epoch": 0}),
                                (10, 20, {"epoch": 1}), (20, 20, {"epoch": 1}), (20, 20, {"epoch": 1})]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="pretends two GPUs on a CPU-only machine")
def test_distributed_torchrun_script_gets_nproc_and_a_free_master_port(monkeypatch):
    """The shipped torchrun sweep's argv: {nproc} = the trial's 2 GPUs (torchrun starts 2 gloo
    processes here, no CUDA), {master_port} a port free now; rank 0's JSON lines are the metrics."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    [trial] = load_sweep(ROOT / "sweeps" / "external_torchrun.yaml", ["lr=0.05"], profile="smoke").trials[:1]
    cfg = Schema(Config).build(dict(trial.config))
    monkeypatch.chdir(ROOT)
    reports = []
    train(cfg, lambda m, s: reports.append((s, m)))
    assert [s for s, _ in reports] == [1, 2]
    assert reports[-1][1]["dist/world_size"] == 2.0 and 50 < reports[-1][1]["val/accuracy"] <= 100


def test_runtime_placeholders_are_one_value_per_trial():
    from trainers.command.train import _fill_runtime, runtime_placeholders

    runtime = runtime_placeholders()
    port = _fill_runtime("{master_port}", runtime)
    assert port.isdigit() and 1024 < int(port) < 65536
    assert _fill_runtime("--master_port={master_port}", runtime) == f"--master_port={port}"
    assert _fill_runtime("{nproc}", runtime) == str(len(_fill_runtime("{gpus}", runtime).split(",")) if
                                                    _fill_runtime("{gpus}", runtime) else 1)
