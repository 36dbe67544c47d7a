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


def test_mlflow_ui_lists_parent_children_and_a_param_column(local_ray, tmp_path, write):
    from mlflow import MlflowClient
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep

    spec = load_sweep(write("browsed.yaml", "name: browsed\ntrainer: toy\nparams: {epochs: 2}\n"
                                            "grid: {probMargin: [0, 0.5, 0.8]}\n"))
    artifacts = Path(os.environ.get("ORCH_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with mlflow_server(tmp_path) as uri:
        run_sweep(spec, tracking_uri=uri, quiet=True)
        experiment = MlflowClient(uri).get_experiment_by_name("browsed").experiment_id
        driver = _browser()
        try:
            wait = WebDriverWait(driver, 60)
            driver.get(f"{uri}/#/experiments/{experiment}/runs")
            row = wait.until(ec.presence_of_element_located(
                (By.XPATH, "//div[@role='row' and .//a[normalize-space()='browsed']]")))
            # the parent run is listed with an expander for its nested children
            row_id = row.get_attribute("row-id")
            wait.until(ec.element_to_be_clickable(
                (By.XPATH, f"//div[@row-id='{row_id}']//button"))).click()
            for child in ("probMargin0", "probMargin0.5", "probMargin0.8"):
                wait.until(ec.presence_of_element_located(
                    (By.XPATH, f"//a[normalize-space()='{child}']")))
            # params are columns: pick the sweep's axis in the column chooser
            driver.find_element(By.XPATH, "//button[.//*[normalize-space()='Columns']]").click()
            search = wait.until(ec.presence_of_element_located(
                (By.XPATH, "//input[@placeholder='Search columns']")))
            search.send_keys("probMargin")
            wait.until(ec.element_to_be_clickable(
                (By.XPATH, "//*[normalize-space()='probMargin' and not(self::input)]"))).click()
            search.send_keys(Keys.ESCAPE)
            header = wait.until(ec.presence_of_element_located(
                (By.XPATH, "//*[@role='columnheader' and contains(normalize-space(), 'probMargin')]")))
            assert header.is_displayed()
            cells = driver.find_elements(By.XPATH, "//*[@role='gridcell' and normalize-space()='0.8']")
            assert cells, "the probMargin value 0.8 of a child run is shown in its column"
        finally:
            driver.save_screenshot(str(artifacts / "mlflow_ui_runs.png"))
            driver.quit()
