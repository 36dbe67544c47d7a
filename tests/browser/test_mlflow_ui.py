"""A real browser on the MLflow UI: the sweep's parent run, its nested child runs, a param column.

Needs Debian's chromium and chromium-driver (installed by .ci/run) and selenium; skips otherwise.
The screenshot is kept under tests/artifacts/ (or $ORCH_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import mlflow_server

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip("Debian chromium and chromium-driver are not installed", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")


def _browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=2200,1000"):
        options.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def test_mlflow_ui_opens_on_the_trials_with_params_and_metric_columns(local_ray, tmp_path, write):
    """The URL `orch ui` prints opens the Model training view on the sweep's child runs, unfolded,
    with the swept param, the status and the sweep metric as columns: no clicks, a laptop window."""
    from mlflow import MlflowClient
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from orchestrator.cli.read import _sweep_path
    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep

    spec = load_sweep(write("browsed.yaml", "name: browsed\ntrainer: toy\nparams: {epochs: 2}\n"
                                            "grid: {probMargin: [0, 0.5, 0.8]}\n"))
    artifacts = Path(os.environ.get("ORCH_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with mlflow_server(tmp_path) as uri:
        run_sweep(spec, tracking_uri=uri, quiet=True)
        experiment = MlflowClient(uri).get_experiment_by_name("browsed")
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
        driver = _browser()
        try:
            driver.set_window_size(1440, 900)
            driver.get(uri + _sweep_path("browsed", uri))
            wait = WebDriverWait(driver, 60)
            for child in ("probMargin0", "probMargin0.5", "probMargin0.8"):
                link = wait.until(ec.visibility_of_element_located((By.XPATH, f"//a[normalize-space()='{child}']")))
                assert link.is_displayed()
            assert not driver.find_elements(By.XPATH, "//div[@role='row']//a[normalize-space()='browsed']")
            for column in ("probMargin", "val/Mean", "orch.status"):
                header = wait.until(ec.visibility_of_element_located(
                    (By.XPATH, f"//*[@role='columnheader' and contains(normalize-space(), '{column}')]")))
                assert header.is_displayed(), column
            assert driver.find_elements(By.XPATH, "//*[@role='gridcell' and normalize-space()='0.8']")
            # the Model training view (MLflow's switch; its GenAI view has no Model registry link)
            assert driver.find_element(By.XPATH, "//*[normalize-space()='Model registry']").is_displayed()
        finally:
            driver.save_screenshot(str(artifacts / "mlflow_ui_runs.png"))
            driver.quit()
