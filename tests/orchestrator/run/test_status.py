"""`orch status` on a real store with done, diverged, failed and missing cells."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def _row(out: str, first: str) -> list[str]:
    line = next(x for x in out.splitlines() if re.match(rf"^[│┃] {re.escape(first)} +[│┃]", x))
    return [c.strip() for c in re.split("[│┃]", line.strip("│┃"))]


def test_status_grid_shows_each_status_and_what_a_resume_runs(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("grid.yaml", """
        name: grid
        trainer: toy
        params: {epochs: 3}
        grid: {t: [7, 8, 20], fail_at_epoch: [2, 100]}
        abbrev: {t: t, fail_at_epoch: f}
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    runs = {r.data.tags["orch.trial_name"]: r for r in children(client, parents(client)[0].info.run_id)}
    client.delete_run(runs["t8f100"].info.run_id)  # deleted in the UI: the grid has a hole again

    result = CliRunner().invoke(app, ["status", "grid", "--pivot", "t", "fail_at_epoch", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    out = result.output
    assert _row(out, "t \\ fail_at_epoch") == ["t \\ fail_at_epoch", "2", "100"]
    assert _row(out, "7") == ["7", "1 failed", "1 done"]
    assert _row(out, "8") == ["8", "1 failed", "1 missing"]
    assert _row(out, "20")[2] == "1 diverged"
    twenty = runs["t20f2"].data.tags["orch.status"]  # NaN at epoch 2 or the error first: either is shown
    assert _row(out, "20")[1] == f"1 {twenty}"
    failed = 2 + (twenty == "failed")
    assert f"would run {failed + 1} trial(s): {failed} failed, 1 missing" in out
    assert "grid: 6 trials:" in out

    transposed = CliRunner().invoke(app, ["status", "grid", "--pivot", "fail_at_epoch", "t", "--tracking-uri", uri])
    assert _row(transposed.output, "100") == ["100", "1 done", "1 missing", "1 diverged"]
    bad = CliRunner().invoke(app, ["status", "grid", "--pivot", "t", "lr", "--tracking-uri", uri])
    assert bad.exit_code == 2 and "'lr' is not an axis of sweep grid" in bad.output
