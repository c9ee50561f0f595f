"""The app's parts without a browser: forms generated from the schema (lossless, new fields appear), the upload
boundary, the worker's cancel, containment of the runs folder and the `nksim app` options."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

pytest.importorskip("panel", reason="panel missing: `pip install -e .[test]` installs it")

import nksim  # noqa: E402
from nksim.app.forms import ScenarioForm  # noqa: E402
from nksim.app.jobs import Job  # noqa: E402
from nksim.app.messages import problem_lines, variant  # noqa: E402
from nksim.app.session import new_session  # noqa: E402
from nksim.app.uploads import MAX_UPLOAD_BYTES, label, scenario_from_upload, trial_data_from_text  # noqa: E402
from nksim.errors import InputError  # noqa: E402
from nksim.spec.io import dump_scenario  # noqa: E402
from nksim.spec.scenario import Product, Scenario  # noqa: E402


@pytest.mark.parametrize("name", ["hcc-gpc3-car-nk-il15", "hcc-post-lt-allo-nk", "hl-afm13-cb-nk"])
def test_every_widget_stands_for_the_scenarios_own_value(name):
    """Setting every widget's value back through Scenario.replace gives the same scenario: the form loses nothing."""
    sc = nksim.load_scenario(name)
    form = ScenarioForm(sc, lambda: None)
    form.sections()
    assert {"regimen.dose_level", "regimen.dose_levels", "product.construct.car_targets",
            "simulation.n_patients", "population.covariates"} <= set(form.widgets)
    # a group that is set gets its own widgets, one that is not (None) a YAML line
    assert ("regimen.lymphodepletion.day" in form.widgets) == (sc.regimen.lymphodepletion is not None)
    assert "calibration" not in form.widgets  # a server path: never offered
    again = sc.replace({p: form.value(p) for p in form.widgets if not p.startswith("arms")}, where="test")
    assert again.model_dump() == sc.model_dump()


def test_a_new_schema_field_gets_a_widget_without_app_code():
    class NewProduct(Product):
        shelf_life_d: float = 30.0
        frozen_form: bool = True

    class NewScenario(Scenario):
        product: NewProduct
        site: str = "center A"

    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    data = sc.model_dump(mode="python")
    data["product"] = NewProduct(**data["product"])
    form = ScenarioForm(NewScenario(**data), lambda: None)
    form.sections()
    assert {"product.shelf_life_d", "product.frozen_form", "site"} <= set(form.widgets)
    assert form.kinds["product.shelf_life_d"] == "plain" and form.widgets["product.shelf_life_d"].value == 30.0


def test_edits_collect_changes_and_unreadable_yaml_is_named():
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    seen = []
    form = ScenarioForm(sc, lambda: seen.append(dict(form.changes)))
    form.sections()
    form.widgets["regimen.dose_level"].value = 9
    with pytest.raises(InputError) as exc:
        variant(sc, form.changes)
    assert problem_lines(exc.value) == ["regimen.dose_level = 9 is not allowed; expected a level in 1..3 "
                                        "(3 dose_levels given)"]
    form.widgets["regimen.infusion_days"].value = "[0, 7"
    assert "regimen.infusion_days" in form.errors and "one line of YAML" in str(form.errors["regimen.infusion_days"])
    form.widgets["regimen.infusion_days"].value = "[0, 7, 21]"
    form.widgets["regimen.dose_level"].value = 1
    out = variant(sc, form.changes)
    assert out.regimen.infusion_days == (0, 7, 21) and out.regimen.dose_level == 1 and len(seen) == 4


def test_uploads_are_bounded_text_read_as_yaml_only():
    sc = nksim.load_scenario("hcc-gpc3-car-nk-il15")
    good = dump_scenario(sc).encode("utf-8")
    assert scenario_from_upload(good, "../../etc/my.yaml").model_dump() == sc.model_dump()
    assert label("../../etc/passwd", "x") == "passwd" and label("C:\\a\\b.yaml", "x") == "b.yaml"
    for data, words in [(b"x" * (MAX_UPLOAD_BYTES + 1), "at most 1 MB"), (b"name: a\x00", "binary content"),
                        (b"\xff\xfe", "UTF-8"), (b"a: &a [1]\nb: *a\nc: !!python/object:os.system {}\n", "valid YAML"),
                        (good.replace(b"calibration: null", b"calibration: /etc/passwd"), "no calibration file")]:
        with pytest.raises(InputError, match=words):
            scenario_from_upload(data, "up.yaml")


def test_trial_data_goes_through_the_clis_reader(tmp_path):
    data = trial_data_from_text("dose_level,dlt\n1,0\n2,1\n", 3, tmp_path)
    assert data.dose_level.tolist() == [1, 2] and data.dlt.tolist() == [0, 1]
    with pytest.raises(InputError, match="dlt \\(row 3 of trial_data.csv\\)"):
        trial_data_from_text("dose_level,dlt\n1,0\n2,7\n", 3, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["trial_data.csv"]


def test_job_cancel_stops_the_work_at_its_next_report():
    steps = []

    def work(job: Job) -> str:
        for k in range(1000):
            job.report(k / 1000, f"step {k}")
            steps.append(k)
            time.sleep(0.005)
        return "finished"

    job = Job(work).start()
    while len(steps) < 3:
        time.sleep(0.005)
    job.cancel()
    job.thread.join(5)
    assert job.done and job.cancelled and job.result is None and len(steps) < 1000


def test_job_reports_input_errors_as_the_cli_words_them():
    def work(job: Job) -> None:
        nksim.load_scenario("hcc-gpc3-car-nk-il15").replace({"regimen.dose_level": 0})

    job = Job(work).start()
    job.thread.join(30)
    assert job.done and not job.cancelled and "regimen.dose_level = 0 is not allowed" in job.error


def test_runs_stay_under_the_apps_root(tmp_path):
    session = new_session(tmp_path / "runs")
    for name in ("../../etc", "/abs/path", "a/../../b"):
        folder = session.out_folder("cohort", name)
        assert folder.resolve().parent == (tmp_path / "runs").resolve()


def test_app_command_options():
    from nksim.cli import app

    r = CliRunner().invoke(app, ["app", "--port", "70000"])
    assert isinstance(r.exception, InputError) and "--port" in str(r.exception)
    r = CliRunner().invoke(app, ["app", "--help"])
    assert r.exit_code == 0 and "127.0.0.1" in r.stdout
