"""`nksim trial ...` commands: operating characteristics, design comparison, the dose advisor, boundary tables and
randomized multi-arm comparison."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Optional

import typer

from nksim.cli_args import parse_floats
from nksim.errors import InputError

app = typer.Typer(help="Virtual phase I trials, dose-escalation designs and the dose-decision advisor.", no_args_is_help=True)

_DESIGN_HELP = "3+3, boin, crm, keyboard, mtpi2, mtpi, i3+3, tite-boin, boin12"


def _floats(text: Optional[str], field: str) -> Optional[list[float]]:
    return parse_floats(text, field, "comma-separated numbers, e.g. 0.05,0.15,0.3")


def _design(name: str, target: float, n_doses: int, cohort_size: int, n_cohorts: int, start_dose: int,
            n_earlystop: Optional[int], extrasafe: bool, deescalation: bool, skeleton: Optional[str],
            crm_model: str, phi_e: Optional[float], titration: bool = False):
    from nksim.trial.designs import make_design

    key = name.strip().lower()
    kw: dict[str, Any] = {"n_doses": n_doses, "target": target, "cohort_size": cohort_size,
                          "n_cohorts": n_cohorts, "start_dose": start_dose}
    if key in ("boin", "keyboard", "mtpi2", "mtpi", "i3+3", "tite-boin"):
        kw.update(n_earlystop=n_earlystop, extrasafe=extrasafe or None)
        if titration:
            if key != "boin":
                raise InputError("titration", True, "the boin design (BOIN get.oc titration)")
            kw["titration"] = True
    elif key == "crm":
        kw.update(skeleton=_floats(skeleton, "skeleton"), model=crm_model, n_earlystop=n_earlystop)
    elif key == "3+3":
        kw.update(deescalation=deescalation)
    elif key == "boin12":
        kw.update(phi_e=phi_e, n_earlystop=n_earlystop, safety_stop=extrasafe or None)
    return make_design(key, **kw)


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=float))


def _print_oc(oc: dict[str, Any]) -> None:
    k = len(oc["selection_pct"])
    typer.echo(f"design {oc['design']}: {oc['n_trials']} simulated trials")
    typer.echo("dose level          " + "".join(f"{j + 1:>9d}" for j in range(k)) + "     none")
    typer.echo("selection %         " + "".join(f"{v:9.2f}" for v in oc["selection_pct"])
               + f"{oc['no_selection_pct']:9.2f}")
    typer.echo("mean patients       " + "".join(f"{v:9.2f}" for v in oc["mean_patients"]))
    typer.echo("mean DLTs           " + "".join(f"{v:9.2f}" for v in oc["mean_dlt"]))
    if any(oc["mean_response"]):
        typer.echo("mean responses      " + "".join(f"{v:9.2f}" for v in oc["mean_response"]))
    typer.echo(f"PCS {oc['pcs']:.2f}% (+- {oc['pcs_se_pct']:.2f} s.e.; correct doses {oc['correct_doses']}), "
               f"patients at correct dose {oc['pca']:.1f}%, ended before max N {oc['early_stop_pct']:.2f}% "
               f"(3+3 ends by its own rule; safety stops = 'none' selected), overdose selection "
               f"{oc['overdose_selection_pct']:.2f}%, patients treated above target "
               f"{oc['overdose_allocation_pct']:.1f}%")
    typer.echo(f"mean patients {oc['mean_total_patients']:.2f}, DLTs {oc['mean_total_dlt']:.2f}, "
               f"duration {oc['duration_days']:.0f} days")


@app.command("oc")
def oc_cmd(
    design: str = typer.Option("boin", help=_DESIGN_HELP),
    target: float = typer.Option(0.3, help="target DLT probability (BOIN12: highest acceptable, phi_T)"),
    true_tox: str = typer.Option(..., help="true DLT probability per dose, comma-separated"),
    true_eff: Optional[str] = typer.Option(None, help="true response probability per dose (BOIN12)"),
    cohort_size: int = typer.Option(3),
    n_cohorts: int = typer.Option(10),
    start_dose: int = typer.Option(1),
    trials: int = typer.Option(10_000, help="number of simulated trials"),
    seed: int = typer.Option(1),
    n_earlystop: Optional[int] = typer.Option(None, help="stop at this many patients on a dose (default off)"),
    extrasafe: bool = typer.Option(False, help="BOIN-family extra-safe stopping rule (boin12: safety_stop)"),
    deescalation: bool = typer.Option(False, help="3+3: the variant with de-escalation / expansion below"),
    titration: bool = typer.Option(False, help="BOIN: accelerated titration (one patient per dose until a DLT)"),
    skeleton: Optional[str] = typer.Option(None, help="CRM skeleton (default getprior(0.05, target, mid, K))"),
    crm_model: str = typer.Option("empiric", help="CRM model: empiric (power) or logistic"),
    phi_e: Optional[float] = typer.Option(None, help="BOIN12: lowest acceptable response rate"),
    dlt_window_days: float = typer.Option(28.0, help="DLT assessment window (days)"),
    accrual_gap_days: float = typer.Option(7.0, help="mean days between patient arrivals"),
    out: Optional[Path] = typer.Option(None, help="run folder for oc.json and plots (default runs/trial-oc-DESIGN)"),
    exact: bool = typer.Option(False, help="also compute exact values by enumerating all trial paths (not TITE/BOIN12)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Operating characteristics of a design for fixed true DLT (and response) probabilities."""
    import numpy as np

    from nksim.trial.advisor import TrialData, dose_paths
    from nksim.trial.plots import plot_dose_paths, plot_dose_transitions, plot_selection
    from nksim.trial.simulate import operating_characteristics
    from nksim.trial.base import run_trials
    from nksim.trial.outcomes import FixedProbabilityModel

    p_tox = _floats(true_tox, "true_tox")
    p_eff = _floats(true_eff, "true_eff")
    d = _design(design, target, len(p_tox), cohort_size, n_cohorts, start_dose, n_earlystop, extrasafe,
                deescalation, skeleton, crm_model, phi_e, titration)
    if trials < 1:
        raise InputError("trials", trials, "an integer >= 1")
    if d.uses_efficacy and p_eff is None:
        raise InputError("true_eff", None, f"a response probability per dose for {d.name}")
    oc = operating_characteristics(d, p_tox, p_eff, n_trials=trials, seed=seed, dlt_window_days=dlt_window_days,
                                   accrual_gap_days=accrual_gap_days).to_dict()
    folder = out or Path("runs") / f"trial-oc-{d.name.replace('+', 'p')}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "oc.json").write_text(json.dumps(oc, indent=2, default=float), encoding="utf-8")
    plot_selection([oc], folder / "selection.png", p_tox)
    model = FixedProbabilityModel(p_tox, p_eff, seed=seed, dlt_window_days=dlt_window_days)
    ex = d.simulate(model, 4) if hasattr(d, "simulate") else run_trials(d, model, 4)
    plot_dose_paths(ex.dose_path, ex.dlt_path, folder / "dose_paths.png", title=f"{d.name}: example trials")
    empty = TrialData(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                      np.zeros(0, dtype=np.int64) if d.uses_efficacy else None)
    plot_dose_transitions(dose_paths(d, empty), folder / "dose_path_flowchart.png", int(d.start_dose),
                          title=f"{d.name}: dose transitions for the first two cohorts")
    oc["run_folder"] = str(folder)
    if exact:
        from nksim.trial.simulate import exact_oc

        if d.uses_efficacy or d.name == "tite-boin" or getattr(d, "titration", False):
            raise InputError("exact", True, "a design whose decisions depend on DLT counts only (not boin12, tite-boin)")
        ex = exact_oc(d, p_tox)
        oc["exact"] = {"selection_pct": (ex["selection"] * 100).round(4).tolist(),
                       "no_selection_pct": float(ex["no_selection"] * 100),
                       "mean_patients": ex["mean_patients"].round(4).tolist(),
                       "mean_dlt": ex["mean_dlt"].round(4).tolist(), "early_stop_pct": float(ex["early_stop"] * 100)}
    if as_json:
        _echo_json(oc)
    else:
        _print_oc(oc)
        if exact:
            e = oc["exact"]
            typer.echo("exact selection %   " + "".join(f"{v:9.2f}" for v in e["selection_pct"])
                       + f"{e['no_selection_pct']:9.2f}")
            typer.echo("exact mean patients " + "".join(f"{v:9.2f}" for v in e["mean_patients"]))
        typer.echo(f"run folder: {folder}")


@app.command("simulate")
def simulate_cmd(
    scenario: str = typer.Argument(..., help="built-in scenario name or YAML: its virtual patients enter the trials"),
    design: str = typer.Option("boin", help=_DESIGN_HELP),
    target: float = typer.Option(0.3, help="target DLT probability (BOIN12: highest acceptable, phi_T)"),
    cohort_size: int = typer.Option(3),
    n_cohorts: int = typer.Option(10),
    start_dose: int = typer.Option(1),
    trials: int = typer.Option(100, help="number of simulated trials (each patient is a simulated virtual patient)"),
    population: int = typer.Option(200, help="virtual patients per dose for the population DLT/response rates"),
    pool: Optional[int] = typer.Option(
        None, help="simulate a pool of this many virtual patients once per dose and draw trial patients from it "
                   "(thousands of trials per second; the rates are the pool's; see nksim.trial.mechanistic)"),
    horizon: float = typer.Option(112.0, help="days simulated per patient (DLT window and response scans)"),
    seed: Optional[int] = typer.Option(None, help="scenario seed override (which virtual patients)"),
    n_earlystop: Optional[int] = typer.Option(None, help="stop at this many patients on a dose (default off)"),
    extrasafe: bool = typer.Option(False, help="BOIN-family extra-safe stopping rule (boin12: safety_stop)"),
    phi_e: Optional[float] = typer.Option(None, help="BOIN12: lowest acceptable response rate"),
    accrual_gap_days: float = typer.Option(7.0, help="mean days between patient arrivals"),
    manufacturing: Optional[str] = typer.Option(
        None, help="manufacturing process (built-in name, YAML, or 'scenario' for the scenario's block): each "
                   "patient's product comes from a simulated lot; failed lots leave patients untreated"),
    out: Optional[Path] = typer.Option(None, help="run folder (default runs/trial-sim-SCENARIO-DESIGN)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Mechanistic mode: run a design on the scenario's virtual patients, each simulated by the cohort engine at
    the dose the design assigns (DLT and response from the clinical readouts; the same patient keeps its
    covariates at every dose)."""
    from nksim.spec.io import load_scenario
    from nksim.trial.mechanistic import MechanisticOutcomeModel
    from nksim.trial.plots import plot_selection
    from nksim.trial.simulate import operating_characteristics

    sc = load_scenario(scenario)
    if seed is not None:
        sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"seed": seed})})
    n_doses = len(sc.regimen.dose_levels)
    d = _design(design, target, n_doses, cohort_size, n_cohorts, start_dose, n_earlystop, extrasafe, False, None,
                "empiric", phi_e, False)
    if trials < 1:
        raise InputError("trials", trials, "an integer >= 1")
    mfg = True if manufacturing == "scenario" else manufacturing
    model = MechanisticOutcomeModel(sc, max_patients=int(d.max_n), horizon_d=horizon, manufacturing=mfg,
                                    pool=pool)
    rates = model.population_rates(population)
    oc = operating_characteristics(d, rates["p_dlt"].to_numpy(), rates["p_response"].to_numpy(), n_trials=trials,
                                   seed=sc.simulation.seed, accrual_gap_days=accrual_gap_days, model=model).to_dict()
    oc["scenario"] = sc.name
    oc["population_rates"] = rates.to_dict(orient="records")
    oc["virtual_patients_simulated"] = model.simulated_patients
    oc["untreated_by_manufacturing"] = model.untreated
    folder = out or Path("runs") / f"trial-sim-{sc.name}-{d.name.replace('+', 'p')}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "oc.json").write_text(json.dumps(oc, indent=2, default=float), encoding="utf-8")
    plot_selection([oc], folder / "selection.png", rates["p_dlt"].tolist())
    oc["run_folder"] = str(folder)
    if as_json:
        _echo_json(oc)
        return
    typer.echo(f"{sc.name}: population rates per dose ({population} virtual patients each)")
    for r in oc["population_rates"]:
        typer.echo(f"  dose {r['dose_level']} ({r['dose']:.3g} {r['unit']}): P(DLT) {r['p_dlt']:.3f}  "
                   f"P(response) {r['p_response']:.3f}")
    _print_oc(oc)
    if model.manufacturing is not None:
        typer.echo(f"patients left untreated by lot failures (counted as non-responders without DLT): "
                   f"{model.untreated} of {model.simulated_patients} simulated")
    typer.echo(f"virtual patients simulated: {model.simulated_patients}; run folder: {folder}")


@app.command("compare")
def compare_cmd(
    designs: str = typer.Option("3+3,boin,crm,keyboard", help="comma-separated design names"),
    target: float = typer.Option(0.3),
    true_tox: str = typer.Option(...),
    true_eff: Optional[str] = typer.Option(None),
    cohort_size: int = typer.Option(3),
    n_cohorts: int = typer.Option(10),
    trials: int = typer.Option(2000),
    seed: int = typer.Option(1),
    out: Optional[Path] = typer.Option(None, help="run folder (default runs/trial-compare)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Several designs on the same simulated patients (common random numbers)."""
    from nksim.trial.plots import plot_selection
    from nksim.trial.simulate import compare

    p_tox = _floats(true_tox, "true_tox")
    p_eff = _floats(true_eff, "true_eff")
    ds = [_design(n, target, len(p_tox), cohort_size, n_cohorts, 1, None, False, False, None, "empiric", None)
          for n in designs.split(",") if n.strip()]
    if p_eff is None and any(d.uses_efficacy for d in ds):
        raise InputError("true_eff", None, "a response probability per dose for the efficacy designs (boin12)")
    ocs = [o.to_dict() for o in compare(ds, p_tox, p_eff, n_trials=trials, seed=seed)]
    folder = out or Path("runs") / "trial-compare"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compare.json").write_text(json.dumps(ocs, indent=2, default=float), encoding="utf-8")
    plot_selection(ocs, folder / "selection.png", p_tox)
    from nksim.trial.simulate import COMPARE_NOTES, compare_table

    table = compare_table(ocs)
    table.to_csv(folder / "compare.csv", index_label="operating characteristic")
    if as_json:
        _echo_json(ocs)
        return
    typer.echo(f"{len(ocs)} designs on the same {trials} simulated trials (true DLT rates {p_tox}, target {target:g})")
    typer.echo(table.to_string())
    typer.echo("")
    for note in COMPARE_NOTES:
        typer.echo(textwrap.fill(note, 110, subsequent_indent="  "))
    typer.echo(f"run folder: {folder} (compare.csv, compare.json, selection.png)")


@app.command("next-dose")
def next_dose_cmd(
    design: str = typer.Option("boin", help=_DESIGN_HELP),
    target: float = typer.Option(0.3),
    n_doses: int = typer.Option(..., help="number of dose levels"),
    data: Path = typer.Option(..., help="CSV of treated patients in order: dose_level, dlt[, response]"),
    cohort_size: int = typer.Option(3),
    n_cohorts: int = typer.Option(10, help="maximum number of cohorts (sample size = cohorts x size)"),
    start_dose: int = typer.Option(1),
    n_earlystop: Optional[int] = typer.Option(None),
    extrasafe: bool = typer.Option(False),
    deescalation: bool = typer.Option(False),
    skeleton: Optional[str] = typer.Option(None),
    crm_model: str = typer.Option("empiric"),
    phi_e: Optional[float] = typer.Option(None),
    dlt_window_days: float = typer.Option(28.0, help="TITE-BOIN: DLT window; CSV column followup_days"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recommend the next dose of a running trial from its data."""
    import dataclasses

    from nksim.trial.advisor import read_trial_data, recommend

    d = _design(design, target, n_doses, cohort_size, n_cohorts, start_dose, n_earlystop, extrasafe,
                deescalation, skeleton, crm_model, phi_e)
    if d.name == "tite-boin":
        d = dataclasses.replace(d, dlt_window_days=dlt_window_days)
    rec = recommend(d, read_trial_data(data, n_doses))
    if as_json:
        _echo_json(rec)
        return
    nd = rec["next_dose"]
    typer.echo(f"{d.name}: next dose {nd if nd is not None else '- (stop)'}: {rec['decision']}")
    pd_ = rec["per_dose"]
    post = rec["posterior"]
    typer.echo("dose  n  DLT  isotonic DLT rate  95% interval    P(overdose)")
    for j in range(n_doses):
        est = post["isotonic_dlt_rate"][j]
        ci = (f"({post['ci95_low'][j]:.2f}, {post['ci95_high'][j]:.2f})" if est is not None else "-")
        pod = f"{post['prob_overdose'][j]:.2f}" if est is not None else "-"
        typer.echo(f"{j + 1:>4} {pd_['n'][j]:>2} {pd_['dlt'][j]:>4}  {('%.3f' % est) if est is not None else '-':>17}"
                   f"  {ci:<14}  {pod}")
    for k, v in post.items():
        if k in ("isotonic_dlt_rate", "ci95_low", "ci95_high", "prob_overdose"):
            continue
        typer.echo(f"{k.replace('_', ' ')}: " + (", ".join(f"{x:.3f}" for x in v) if isinstance(v, list) else f"{v:.4f}"))
    if rec["eliminated_doses"]:
        typer.echo(f"eliminated doses: {rec['eliminated_doses']}")
    key = "estimated_obd" if "estimated_obd" in rec else "estimated_mtd"
    typer.echo(f"{key.replace('_', ' ')} so far: {rec[key] if rec[key] else 'none'}")
    if rec["dose_paths"]:
        typer.echo("dose paths for the next cohorts (DLTs/patients -> next dose):")
        for node in rec["dose_paths"]:
            nxt = node["next_dose"] if node["next_dose"] is not None else "stop"
            then = ", ".join(f"{c['dlts']}/{c['of']}->{c['next_dose'] if c['next_dose'] is not None else 'stop'}"
                             for c in node["then"])
            typer.echo(f"  dose {node['dose']}: {node['dlts']}/{node['of']} -> {nxt}" + (f"   then at {nxt}: {then}"
                                                                                      if then else ""))
    _print_boundaries(rec["boundary_table"], cohort_size)


def _print_boundaries(tab: dict[str, Any], cohort_size: int, every: int | None = None) -> None:
    if not tab:
        return
    if "lambda_e" in tab:
        typer.echo(f"lambda_e = {tab['lambda_e']:.4f}, lambda_d = {tab['lambda_d']:.4f}")
    ns = tab["n_treated"]
    step = every or 1
    cols = [i for i, n in enumerate(ns) if n % step == 0]

    def fmt(v):
        return "NA" if v is None else str(v)

    rows = [("number of patients treated", "n_treated"), ("escalate if # of DLT <=", "escalate_if_dlt_le"),
            ("de-escalate if # of DLT >=", "deescalate_if_dlt_ge"), ("eliminate if # of DLT >=", "eliminate_if_dlt_ge"),
            ("stop (lowest dose) if >=", "stop_if_dlt_ge_at_lowest_dose")]
    for label, key in rows:
        if key in tab:
            typer.echo(f"{label:<28}" + "".join(f"{fmt(tab[key][i]):>4}" for i in cols))


@app.command("boundaries")
def boundaries_cmd(
    design: str = typer.Option("boin", help="boin, keyboard, mtpi2, mtpi, i3+3 (interval designs)"),
    target: float = typer.Option(0.3),
    max_n: int = typer.Option(30, help="largest number of patients on a dose"),
    cohort_size: int = typer.Option(1, help="print only multiples of this size"),
    extrasafe: bool = typer.Option(False),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Escalation / de-escalation / elimination boundaries by number of patients treated."""
    from nksim.trial.designs import make_design

    if max_n < 1:
        raise InputError("max_n", max_n, "an integer >= 1")
    if design.strip().lower() not in ("boin", "keyboard", "mtpi2", "mtpi", "i3+3", "tite-boin"):
        raise InputError("design", design, "an interval design with a boundary table (boin, keyboard, mtpi2, mtpi, i3+3)")
    d = make_design(design, target=target, cohort_size=1, n_cohorts=max_n,
                    **({"extrasafe": True} if extrasafe else {}))
    tab = d.boundary_table(max_n)
    if not tab:
        raise InputError("design", design, "an interval design with a boundary table (boin, keyboard, mtpi2, mtpi, i3+3)")
    if as_json:
        _echo_json({"design": d.name, "target": target, **tab})
    else:
        typer.echo(f"{d.name} boundaries, target {target}")
        _print_boundaries(tab, cohort_size, cohort_size)


@app.command("multiarm")
def multiarm_cmd(
    arms: str = typer.Option(..., help="name:p_response:median_pfs_months,... (first arm = reference)"),
    n_per_arm: int = typer.Option(30),
    seed: int = typer.Option(1),
    accrual_months: float = typer.Option(12.0),
    followup_months: float = typer.Option(12.0),
    out: Optional[Path] = typer.Option(None, help="run folder (default runs/trial-multiarm)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Randomized dose/schedule comparison: ORR (exact CI), KM PFS, log-rank test and hazard ratios."""
    from nksim.trial.multiarm import analyze_arms, parse_arms, simulate_randomized
    from nksim.trial.plots import plot_km

    if n_per_arm < 2:
        raise InputError("n_per_arm", n_per_arm, "an integer >= 2")
    df = simulate_randomized(parse_arms(arms), n_per_arm, seed=seed, accrual_months=accrual_months,
                             followup_months=followup_months)
    res = analyze_arms(df)
    folder = out or Path("runs") / "trial-multiarm"
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "patients.csv", index=False)
    plot_km(res, folder / "km_pfs.png")
    (folder / "multiarm.json").write_text(json.dumps(res, indent=2, default=float), encoding="utf-8")
    if as_json:
        _echo_json(res)
        return
    for name, a in res["arms"].items():
        line = (f"{name:<10} n={a['n']:<3} ORR {a['orr']:.2f} ({a['orr_ci95'][0]:.2f}-{a['orr_ci95'][1]:.2f})"
                f"  median PFS {a['median_pfs_months']:.1f} mo")
        if "hazard_ratio" in a:
            line += (f"  HR {a['hazard_ratio']:.2f} ({a['hazard_ratio_ci95'][0]:.2f}-{a['hazard_ratio_ci95'][1]:.2f})"
                     f"  log-rank p {a['logrank_p']:.3g}")
        typer.echo(line)
    typer.echo(f"all-arm log-rank chi2 {res['logrank_all_chi2']:.2f}, p {res['logrank_all_p']:.3g}")
    typer.echo(f"run folder: {folder}")
