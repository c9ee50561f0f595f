"""`nksim app` in a real browser (headless Chromium through Playwright, tests/app_driver.py): every page loads, a
dose is changed and a bad value gets `nksim validate`'s message, a 20-patient cohort shows its figures, and the
next-dose advisor gives the CLI's decision for the same data. The longer page runs (trial designs, manufacturing,
ABM) and the screenshots in docs/ are in `make app-test` (NKSIM_APP_FULL=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

pytest.importorskip("playwright", reason="Python playwright missing: `pip install -e .[test]` installs it")

from app_driver import ROOT, app_server, chromium_page, fill, open_page, screenshot  # noqa: E402
from browser import INSTALL_HINT, find_chromium  # noqa: E402

PAGES = {"Scenario designer": ".nk-verdict", "Virtual cohort": ".nk-run-cohort", "Trial designer": ".nk-run-trial",
         "Next-dose advisor": ".nk-adv-run", "Manufacturing": ".nk-run-mfg", "Spatial view": ".nk-run-abm"}
SCENARIO = "hcc-gpc3-car-nk-il15"  # the app's first scenario
FULL = os.environ.get("NKSIM_APP_FULL") == "1"
# one app server and one browser for the module: `make test` runs with --dist loadgroup, which keeps these tests on
# one xdist worker (plain -n 2 still passes, with a server per worker)
pytestmark = pytest.mark.xdist_group("app-browser")


def nksim(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "nksim", *args], capture_output=True, text=True, encoding="utf-8",
                          env=env)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(page, runs folder): one app server and one browser page for the module's tests, in order."""
    if find_chromium() is None:
        pytest.skip(INSTALL_HINT)
    work = tmp_path_factory.mktemp("app")
    runs = work / "runs" / "app"
    with app_server(work) as url, chromium_page() as page:
        page.goto(url)
        page.locator(".nk-verdict", has_text="ok:").wait_for()
        yield page, runs


def test_every_page_loads(app):
    page, _ = app
    for title, marker in PAGES.items():
        open_page(page, title)
        page.locator(marker).first.wait_for(state="visible")
    open_page(page, "Scenario designer")


def test_designer_message_then_a_20_patient_cohort_at_the_new_dose(app, tmp_path):
    """One story (the page state carries over): a bad dose level gets `nksim validate`'s message, dose level 3 is
    accepted, the cohort page runs 20 patients at level 3 and shows the report's eight figures and the zip."""
    page, runs = app
    open_page(page, "Scenario designer")
    fill(page, "nk-field-regimen-dose_level", 9)
    bad = tmp_path / "bad.yaml"
    bad.write_text(nksim("show", SCENARIO).stdout.replace("dose_level: 2", "dose_level: 9"), encoding="utf-8")
    cli = json.loads(nksim("validate", str(bad), "--json").stdout)
    assert not cli["ok"] and cli["problems"]
    verdict = page.locator(".nk-verdict")
    for problem in cli["problems"]:
        verdict.filter(has_text=problem["message"]).wait_for()
    verdict.filter(has_text="invalid").wait_for()
    fill(page, "nk-field-regimen-dose_level", 3)
    verdict.filter(has_text=f"ok: {SCENARIO}").wait_for()
    screenshot(page, "designer")
    with page.expect_download() as got:
        page.locator(".nk-download-yaml button").click()
    yaml_file = tmp_path / got.value.suggested_filename
    got.value.save_as(yaml_file)
    assert yaml_file.name == f"{SCENARIO}.yaml" and "dose_level: 3" in yaml_file.read_text(encoding="utf-8")
    assert nksim("validate", str(yaml_file)).stdout.startswith(f"ok: {SCENARIO}")

    open_page(page, "Virtual cohort")
    assert page.locator(".nk-dose-level select").input_value().startswith("3:")  # the designer's dose level 3
    fill(page, "nk-patients", 20)
    page.locator(".nk-run-cohort button").click()
    figures = page.locator(".nk-figures img")
    figures.nth(7).wait_for(timeout=120_000)  # all eight report figures
    page.locator(".nk-download-run button").wait_for(state="visible", timeout=120_000)
    assert figures.count() == 8
    folders = list(runs.glob("cohort-*"))
    assert len(folders) == 1 and (folders[0] / "patients.parquet").exists()
    assert (folders[0] / "report.html").exists()
    with page.expect_download() as got:
        page.locator(".nk-download-run button").click()
    names = zipfile.ZipFile(got.value.path()).namelist()
    assert {f"{folders[0].name}/patients.parquet", f"{folders[0].name}/report.html"} <= set(names)
    screenshot(page, "cohort")


def test_next_dose_matches_the_cli(app, tmp_path):
    page, _ = app
    open_page(page, "Next-dose advisor")
    data = "dose_level,dlt\n1,0\n1,0\n1,0\n2,0\n2,1\n2,1\n"
    fill(page, "nk-adv-ndoses", 4)
    page.locator(".nk-adv-data textarea").fill(data)
    page.locator(".nk-adv-data textarea").press("Tab")
    page.locator(".nk-adv-run button").click()
    csv = tmp_path / "d.csv"
    csv.write_text(data, encoding="utf-8")
    line = nksim("trial", "next-dose", "--n-doses", "4", "--data", str(csv)).stdout.splitlines()[0]
    assert line.startswith("boin: next dose")
    page.locator(".nk-adv-decision", has_text=line).wait_for()
    page.locator(".nk-adv-boundaries").wait_for()
    screenshot(page, "advisor")


full = pytest.mark.skipif(not FULL, reason="longer page runs: `make app-test` (NKSIM_APP_FULL=1)")


@full
def test_cohort_cancel_keeps_the_page_usable(app):
    page, _ = app
    open_page(page, "Virtual cohort")
    fill(page, "nk-patients", 5000)
    page.locator(".nk-run-cohort button").click()
    page.locator(".nk-status-cohort", has_text="patients").wait_for()  # the bar is moving
    page.locator(".nk-cancel-cohort button").click()
    page.locator(".nk-status-cohort", has_text="cancelled").wait_for()
    assert page.locator(".nk-run-cohort button").is_enabled()


@full
def test_trial_designer_and_mechanistic_phase_1(app):
    page, _ = app
    open_page(page, "Trial designer")
    page.locator(".nk-run-trial button").click()
    page.locator(".nk-trial-table table", has_text="selected dose 1 (%)").wait_for(timeout=120_000)
    page.locator(".nk-run-mech button").click()
    page.locator(".nk-mech-out table", has_text="P(DLT)").wait_for(timeout=300_000)
    page.locator(".nk-mech-out img").wait_for()
    screenshot(page, "trial")


@full
def test_manufacturing_lots(app):
    page, _ = app
    open_page(page, "Manufacturing")
    page.locator(".nk-run-mfg button").click()
    page.locator(".nk-mfg-table table", has_text="vein-to-vein").wait_for(timeout=120_000)
    page.locator(".nk-figure").nth(1).wait_for(timeout=60_000)
    screenshot(page, "manufacturing")


@full
def test_spatial_view(app):
    page, runs = app
    open_page(page, "Spatial view")
    page.locator(".nk-run-abm button").click()
    page.locator(".nk-abm-out img").first.wait_for(timeout=300_000)
    assert list(runs.glob("abm-*/tumor.gif"))
    screenshot(page, "spatial")


@full
def test_upload_then_arm_comparison(app, tmp_path):
    page, runs = app
    open_page(page, "Scenario designer")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nproduct: {}\nregimen: {dose_levels: []}\n", encoding="utf-8")
    page.locator(".nk-upload-scenario input[type=file]").set_input_files(str(bad))
    page.locator(".nk-verdict", has_text="regimen.dose_levels").wait_for()
    good = tmp_path / "allo.yaml"
    good.write_text(nksim("show", "hcc-post-lt-allo-nk").stdout, encoding="utf-8")
    page.locator(".nk-upload-scenario input[type=file]").set_input_files(str(good))
    page.locator(".nk-verdict", has_text="ok: hcc-post-lt-allo-nk").wait_for()
    open_page(page, "Virtual cohort")
    fill(page, "nk-patients", 30)
    page.locator(".nk-run-arms button").click()
    page.locator(".nk-arms-out img").wait_for(timeout=300_000)
    page.locator(".nk-arms-table", has_text="log-rank").wait_for()
    assert list(runs.glob("arms-*/arms.csv"))
    screenshot(page, "arms")
