"""Secrets reach the trial and nothing orch writes: params, env entries and --set values whose
names look secret (or are listed under ``secrets:``) are ``***`` in the whole store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.util.secrets import MASK, is_secret_name, mask_argv, mask_config, secret_values
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
VALUES = ("s3cr3t-param-value", "tok-env-value-789", "pw-set-value-456", "plain-but-listed-321")


def test_the_rule_and_the_masks():
    assert is_secret_name("api_token") and is_secret_name("env.SERVICE_PASSWORD") and is_secret_name("AWS_KEY")
    assert not is_secret_name("model.backbone") and not is_secret_name("loss.t")
    config = {"api_token": "abc123", "env": {"SERVICE_TOKEN": "xyz789", "HOME": "/h"}, "lr": 0.1, "db": "q1w2e3"}
    public = mask_config(config, {"api_token", "db"})
    assert public == {"api_token": MASK, "env": {"SERVICE_TOKEN": MASK, "HOME": "/h"}, "lr": 0.1, "db": MASK}
    assert set(secret_values(config, {"api_token", "db"})) == {"abc123", "xyz789", "q1w2e3"}
    assert mask_argv(["sweep", "x.yaml", "--set", "api_token=abc", "--set=lr=1", "--set", "db=z"], {"db"}) == \
        ["sweep", "x.yaml", "--set", f"api_token={MASK}", "--set=lr=1", "--set", f"db={MASK}"]


@pytest.mark.slow
def test_secret_values_reach_the_trial_and_never_the_store(tmp_path, write):
    got = tmp_path / "got.json"
    path = write("sec.yaml", f"""
        name: secret_sweep
        trainer: command
        params:
          command: [python, {FIXTURES / "echo_secrets.py"}, {got}, --token, "{{api_token}}",
                    --pw, "{{db_password}}", --plain, "{{plain}}"]
          api_token: {VALUES[0]}
          plain: {VALUES[3]}
          db_password: placeholder
          env: {{SERVICE_TOKEN: {VALUES[1]}}}
        secrets: [plain]
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE")}
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(path), "--quiet",
                          "--set", f"db_password={VALUES[2]}"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    received = json.loads(got.read_text())
    assert received["argv"] == ["--token", VALUES[0], "--pw", VALUES[2], "--plain", VALUES[3]]
    assert received["SERVICE_TOKEN"] == VALUES[1]
    stored = [tmp_path / "mlflow.db", *(p for p in (tmp_path / "mlruns").rglob("*") if p.is_file())]
    assert len(stored) > 5  # params, config.yaml, trials.json, sweep.yaml, trial.log, ...
    for file in stored:
        data = file.read_bytes()
        for value in VALUES:
            assert value.encode() not in data, f"{value} is written in {file}"
    log = next(p for p in (tmp_path / "mlruns").rglob("trial.log"))
    assert f"--token {MASK}" in log.read_text()  # the trial's output, scrubbed
    config = next(p for p in (tmp_path / "mlruns").rglob("config.yaml")).read_text()
    assert f"api_token: '{MASK}'" in config and "SERVICE_TOKEN" in config
