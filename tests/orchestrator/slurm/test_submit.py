"""orch sweep --slurm without a Slurm: the script it writes, the allocation it settles on, and the
one-paragraph refusals (no sbatch, bad flags, a trial the allocation cannot hold, SQLite on
several nodes). The sweep file's slurm: section, checked with file:line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.slurm import SubmitError, flag_options, plan, script
from orchestrator.sweepfile import load_sweep
from orchestrator.sweepfile.errors import SpecError
from orchestrator.sweepfile.slurm import slurm_seconds

TOY = "name: st\ntrainer: toy\ngrid: {t: [1, 2]}\n"
POSE = "name: sp\ntrainer: pose\nresources: {gpu: 4, cpu: 8, memory: 80G}\n"


def _orch(args: list[str], cwd: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"PATH": path} if path is not None else {})}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _flags(**given):
    keys = ("nodes", "gpus_per_node", "cpus_per_node", "mem", "partition", "account", "qos", "time",
            "requeue", "signal", "sbatch_args")
    return flag_options(*(given.get(k) for k in keys))


@pytest.mark.parametrize("text, seconds", [("90", 5400), ("1:30:00", 5400), ("2-00", 172800), ("2-12:00", 216000),
                                           ("5:30", 330), ("6h", 21600), ("90m", 5400), ("0", None), ("soon", None)])
def test_slurm_time_limits_in_slurms_forms_and_durations(text, seconds):
    assert slurm_seconds(text) == seconds


def test_slurm_script_asks_for_what_the_trials_reserve_and_runs_the_sweep_against_its_own_ray(write, tmp_path):
    path = write("s.yaml", POSE + "slurm: {partition: gpu, time: 24h, sbatch_args: [--exclusive]}\n")
    spec = load_sweep(path)
    sub = plan(spec, path, _flags(account="lab", time="2-00"), "http://10.0.0.5:5000", "smoke",
               ("train.epochs=2",), True, None, root=tmp_path)
    text = script(sub)
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for expected in ("#SBATCH --nodes=1", "#SBATCH --cpus-per-task=32", "#SBATCH --gpus-per-node=4",
                     "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --time=2-00:00:00",
                     "#SBATCH --signal=B:USR1@300", "#SBATCH --requeue", "#SBATCH --open-mode=append",
                     f"#SBATCH --output={sub.log_path}", "#SBATCH --exclusive"):
        assert expected in lines, expected  # the flag's --time wins over the file's 24h
    run = lines[-1]
    # 4 workers of 8 CPUs and 80G each: the node's memory is theirs in all (MiB for sbatch, bytes for Ray)
    assert "#SBATCH --mem=305176M" in lines
    assert run.startswith(f"exec {sys.executable} -m orchestrator.slurm.job --cpus 32 --gpus 4 --memory 320000229376 "
                          "--requeue --new -- sweep ")
    assert f"{path.resolve()} --tracking-uri http://10.0.0.5:5000 --profile smoke --set train.epochs=2" in run
    assert sub.script_path.parent == tmp_path / ".orch" / "slurm" and not sub.script_path.exists()  # nothing yet


def test_slurm_several_nodes_split_a_data_parallel_trial_and_refuse_sqlite(write, tmp_path):
    spec = load_sweep(write("s.yaml", POSE))
    sub = plan(spec, Path("s.yaml"), _flags(nodes=2), "http://h:5000", None, (), False, None, root=tmp_path)
    assert (sub.options.nodes, sub.options.gpus_per_node, sub.options.cpus_per_node) == (2, 2, 16)
    with pytest.raises(SubmitError, match="a job of 2 nodes needs an MLflow server, not the SQLite file /x/mlflow.db"):
        plan(spec, Path("s.yaml"), _flags(nodes=2), "sqlite:////x/mlflow.db", None, (), False, None, root=tmp_path)


def test_slurm_an_allocation_no_trial_fits_is_refused(write, tmp_path):
    spec = load_sweep(write("s.yaml", POSE))
    with pytest.raises(SubmitError) as info:
        plan(spec, Path("s.yaml"), _flags(gpus_per_node=2), "http://h:5000", None, (), False, None, root=tmp_path)
    assert "4 GPUs against --gpus-per-node 2 x 1 node(s)" in str(info.value)
    assert "Nothing was submitted" in str(info.value)


@pytest.mark.parametrize("args, expected", [
    (["--nodes", "0"], "--nodes takes a whole number >= 1, got 0"),
    (["--time", "soon"], "--time 'soon' is not a time"),
    (["--mem", "lots"], "--mem 'lots' is not sbatch's --mem"),
    (["--time", "10m", "--signal", "20m"], "--signal (1200 s before the limit) must be shorter than --time (600 s)"),
])
def test_slurm_bad_flags_are_one_paragraph_and_exit_2(tmp_path, args, expected):
    (tmp_path / "s.yaml").write_text(TOY)
    out = _orch(["sweep", "s.yaml", "--slurm", *args], tmp_path)
    assert out.returncode == 2 and expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / ".orch").exists()


def test_slurm_without_sbatch_says_what_is_missing(tmp_path):
    (tmp_path / "s.yaml").write_text(TOY)
    out = _orch(["sweep", "s.yaml", "--slurm"], tmp_path, path="/nonexistent")
    assert out.returncode == 2, out.stderr
    assert "--slurm needs Slurm's sbatch on PATH, and there is none here" in out.stderr
    assert out.stderr.count("\n") == 1 and not list((tmp_path / ".orch" / "slurm").glob("*.sbatch"))
    out = _orch(["sweep", "s.yaml", "--nodes", "2"], tmp_path)
    assert out.returncode == 2 and "go with --slurm" in out.stderr


def test_slurm_section_is_checked_with_file_and_line(write):
    path = write("s.yaml", TOY + "slurm:\n  nodes: 0\n  partiton: gpu\n  time: soon\n")
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    text = str(info.value)
    assert "s.yaml:5: slurm.nodes: expected a whole number >= 1, got 0" in text
    assert "s.yaml:6: slurm.partiton: unknown key; did you mean partition?" in text
    assert "s.yaml:7: slurm.time: cannot read 'soon' as a time" in text


def test_slurm_a_lease_held_by_an_earlier_start_of_the_same_job_is_free_at_once(monkeypatch):
    from orchestrator.tracking.lease import Owner

    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    me = Owner.me()
    assert me.job == "7.1" and Owner.parse(me.to_json()).job == "7.1"
    # this host, a live pid: only the job says the owner is gone (a requeue ended its first start)
    assert not Owner(me.host, os.getpid(), "t", job="7.0").alive()
    assert Owner(me.host, os.getpid(), "t", job="7.1").alive()
    assert Owner(me.host, os.getpid(), "t").alive()


def test_slurm_a_schedulers_doubled_sigterm_counts_once_and_runs_the_hooks():
    import threading

    from orchestrator.run.interrupt import Interrupts

    ran = threading.Event()
    terms = Interrupts()
    terms.on_sigterm(ran.set)
    assert terms.arrived("SIGTERM") and terms.arrived("SIGTERM")  # Slurm's, then the runner's
    assert terms.count == 1 and not terms.forced and ran.wait(5)
    ints = Interrupts()
    assert ints.arrived("SIGINT") and not ints.arrived("SIGINT") and ints.forced  # Ctrl-C twice forces
