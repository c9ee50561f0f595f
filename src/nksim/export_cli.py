"""`nksim export ...`: simulated cohorts and the model in other tools' formats (NONMEM-style datasets, SBML)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nksim.cli_args import parse_floats, to_json
from nksim.errors import InputError

app = typer.Typer(help="Export simulated cohorts and the model in other tools' formats.", no_args_is_help=True)


def _floats(text: Optional[str], field: str) -> Optional[list[float]]:
    return parse_floats(text, field, "comma-separated days, e.g. 0,7,14,28")


@app.command("nonmem")
def nonmem(
    source: str = typer.Argument(..., help="run folder written by `nksim run`, or a scenario (built-in name or YAML) "
                                 "to simulate now"),
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write (its data dictionary goes to <file>.json)"),
    patients: Optional[int] = typer.Option(None, "--patients", "-n", help="virtual patients (scenario source only)"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="random seed (scenario source only)"),
    dosing: Optional[Path] = typer.Option(None, "--dosing", help="NONMEM-style dosing table whose dose rows replace "
                                          "the listed patients' regimens (scenario source only)"),
    observations: Optional[str] = typer.Option(None, "--observations", help="comma-separated: product_blood, "
                                               "car_product_blood, tumor_target_cells, tumor_total_cells, cytokine, "
                                               "il15, il2, wbc, antibody, b_cells_blood, or all (default: "
                                               "product_blood,tumor_target_cells,cytokine)"),
    times: Optional[str] = typer.Option(None, "--times", help="comma-separated observation days, each a save time "
                                        "(default: every save time)"),
    covariates: Optional[str] = typer.Option(None, "--covariates", help="comma-separated patient-table columns, or "
                                             "none (default: the baseline covariates)"),
    as_json: bool = typer.Option(False, "--json", help="print what was written as JSON"),
) -> None:
    """Write a cohort as a NONMEM-style dataset (ID, TIME, EVID, AMT, CMT, DV, MDV, DVID, covariates).

    TIME is days since the first infusion; doses are bolus rows (EVID 1) with AMT in the CMT's unit; observations
    (EVID 0) are post-dose values at save times. See docs/results.md for the compartments and units."""
    from nksim.io.nonmem import read_nonmem, sidecar_path, to_nonmem, write_nonmem

    folder = Path(source)
    if folder.is_dir():
        for name, value in (("--patients", patients), ("--seed", seed), ("--dosing", dosing)):
            if value is not None:
                raise InputError(name, str(value), "nothing for a run folder (it was simulated already); give a "
                                 "scenario to simulate instead")
        data = folder
    else:
        from nksim.engine import simulate

        overrides = {"dosing": read_nonmem(dosing)} if dosing is not None else None
        data = simulate(source, n_patients=patients, seed=seed, overrides=overrides)
    df = to_nonmem(data, observations=observations, times=_floats(times, "--times"), covariates=covariates)
    path = write_nonmem(df, out)
    if as_json:
        typer.echo(to_json({"file": str(path), "data_dictionary": str(sidecar_path(path)), "rows": len(df),
                            "doses": int((df["EVID"] == 1).sum()), "patients": int(df["ID"].nunique())}))
        return
    typer.echo(f"{len(df)} rows ({int((df['EVID'] == 1).sum())} doses) for {df['ID'].nunique()} patients: {path}")
    typer.echo(f"data dictionary (units per CMT/DVID): {sidecar_path(path)}")


@app.command("sbml")
def sbml(
    scenario: str = typer.Argument(..., help="scenario: built-in name or YAML file"),
    out: Path = typer.Option(..., "--out", "-o", help="SBML file to write (e.g. model.xml)"),
    patient: str = typer.Option("0", "--patient", "-p", help="patient id (an integer >= 0, as nksim numbers "
                                "patients) or 'typical' (patient 0 without between-patient variability)"),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="random seed (default: the scenario's)"),
    as_json: bool = typer.Option(False, "--json", help="print what was written (and libsbml's counts) as JSON"),
) -> None:
    """Write one patient's kinetic model as SBML Level 3 Version 2 (libRoadRunner / Tellurium, COPASI, ...).

    The patient's parameters, initial state and dosing events; SBML time 0 is the patient's start day (parameter
    t_origin), study_day = time + t_origin. See docs/model.md "SBML export" for what the file holds and what not."""
    from nksim.errors import NksimError
    from nksim.io.sbml import parse_patient, sbml_problems, to_sbml, write_sbml

    try:
        pid, typical = parse_patient(patient)
    except InputError as exc:
        raise InputError("--patient", patient, exc.allowed) from None
    text = to_sbml(scenario, "typical" if typical else pid, seed=seed)
    path = write_sbml(text, out)
    problems = sbml_problems(text, units=False)
    errors = [p for p in problems if p[0] in ("Error", "Fatal")]
    who = "typical patient" if typical else f"patient {pid}"
    if as_json:
        typer.echo(to_json({"file": str(path), "patient": "typical" if typical else pid, "bytes": len(text),
                            "libsbml_errors": len(errors), "libsbml_warnings": len(problems) - len(errors)}))
    else:
        typer.echo(f"SBML L3V2 model of {who}: {path} ({len(text) // 1024} KiB; libsbml: {len(errors)} errors, "
                   f"{len(problems) - len(errors)} warnings)")
    if errors:
        raise NksimError(f"libsbml reports {len(errors)} errors in the exported file {path}: {errors[0][2]}")
