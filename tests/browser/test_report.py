"""A real browser on `orch report`'s page: the table with its marks and a learning-curve plot are
visible. Needs Debian's chromium and chromium-driver (installed by .ci/run); skips otherwise. The
screenshot is kept under tests/artifacts/ (or $ORCH_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.browser.test_mlflow_ui import _browser
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_report_shows_the_table_and_a_plot(local_ray, store, write, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By

    from orchestrator.cli import app
    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep
    from tests.orchestrator.run.conftest import parents

    uri, client = store
    spec = load_sweep(write("reported.yaml", """
        name: reported
        description: toy temperatures with a diverging one
        trainer: toy
        params: {epochs: 3}
        grid: {t: [7, 10, 20]}
        seeds: 2
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["report", "reported", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    page = tmp_path / "results" / "reported_report.html"
    assert result.stdout.strip() == "results/reported_report.html" and page.exists()
    text = page.read_text()
    assert "src=\"http" not in text and "<script" not in text  # self-contained
    [parent] = parents(client)
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "results")] == [
        "results/reported_report.html"]

    artifacts = Path(os.environ.get("ORCH_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    driver = _browser()
    try:
        driver.set_window_size(1280, 2400)
        driver.get(page.as_uri())
        table = driver.find_element(By.CSS_SELECTOR, "#results table")
        assert table.is_displayed() and "nan (2 of 2 diverged)" in table.text
        assert table.find_elements(By.CSS_SELECTOR, "thead th")[0].text == "t"  # the axis names the rows
        assert "20" in [r.find_elements(By.CSS_SELECTOR, "td")[0].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert driver.find_element(By.CSS_SELECTOR, "#results b").is_displayed()  # the unique best
        plot = driver.find_element(By.CSS_SELECTOR, "#curves img")
        assert plot.is_displayed()
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", plot) > 400
        failures = driver.find_element(By.ID, "failures").text
        assert "t20_s0" in failures and "non-finite" in failures
        assert "t: 7" in driver.find_element(By.ID, "best").text or "t: 10" in driver.find_element(By.ID, "best").text
        status = driver.find_element(By.ID, "status").text
        assert "2 done" in status and "2 diverged" in status
    finally:
        driver.save_screenshot(str(artifacts / "report.png"))
        driver.quit()
