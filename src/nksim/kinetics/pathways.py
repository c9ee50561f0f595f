"""Per-effector killing rates by pathway (MODEL.md process 6), resolved from registry values and the product,
for the kinetic model (``nksim.kinetics.inputs``, per patient) and the release-assay model (``nksim.assay``, per
well) alike: one place for the algebra, on numbers or numpy arrays.

- natural: ``k_nat`` x ligand x (1 - ``i_self`` HLA KIR) x (1 - ``hyp_supp`` hypoxia) x TGF(``tgf_ic50_nat``);
- CAR (transduced cells): ``k_car`` x TGF(``tgf_ic50_car``) (x CAR expression and the class's targeting weight,
  applied by the caller: :func:`car_class_weights`);
- ADCC: ``k_adcc`` x TGF(``tgf_ic50_adcc``) (x (1 + ``m_cd16``) for hnCD16 transduced cells; x antibody occupancy,
  applied by the caller);
- engager-redirected (docs/model.md process 18): ``k_adcc`` x ``k_eng_rel`` x TGF(``tgf_ic50_adcc``) x the binding
  arm's factor: CD16 (x (1 + ``m_cd16``) for hnCD16 transduced cells, as ADCC: native CD16 sheds, hnCD16 does not),
  NKp46 (x (1 - ``hyp_supp`` hypoxia): hypoxia blocks NCR up-regulation, Balsamo 2013; no hnCD16 boost); an engager
  binding both takes the stronger arm (co-engagement synergy is not modelled); x engager occupancy by the caller;
- TGF(IC50) = 1/(1 + TGFb/IC50); dnTGFBR2 multiplies TGFb by (1 - ``dn_rescue``) for transduced cells;
- potency and the immunosuppression factor multiply every pathway; T-cell products have no natural or ADCC pathway;
- beyond the rate, TGF-beta lowers what a killer can do in a lesion (:func:`cell_intrinsic_factors`): its granule
  budget, its proliferation and its IFN-gamma.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from nksim.spec.scenario import Construct, Engager


def tgf_factor(tgfb, ic50):
    """Fraction of killing left under TGF-beta (ng/mL) with half-maximal suppression at ``ic50``."""
    return 1.0 / (1.0 + tgfb / ic50)


def tgfb_seen_by_transduced(p: Mapping[str, object], construct: Construct, tgfb):
    """TGF-beta (ng/mL) as transduced cells see it: x (1 - ``dn_rescue``) with dnTGFBR2."""
    return tgfb * (1.0 - p["dn_rescue"]) if construct.dn_tgfbr2 else tgfb


def rates_per_effector(p: Mapping[str, object], construct: Construct, is_nk: bool, *, tgfb, ligand, hla, kir, hypoxia,
                       f_is, potency, engager: Engager | None = None) -> dict[str, object]:
    """Kill rates (1/d) per killing-competent effector: ``nat_u``, ``nat_t``, ``car_t`` (at full expression, before
    the class weight), ``adcc_u``, ``adcc_t`` (at saturating antibody), ``eng_u``, ``eng_t`` (at saturating
    engager; 0 without ``engager``; ``p`` then also needs ``k_eng_rel``). ``p`` maps registry names to values
    (numbers or per-patient arrays); ``kir`` is the effective KIR inhibition (product x KIR-ligand match)."""
    tgfb_t = tgfb_seen_by_transduced(p, construct, tgfb)
    zero = 0.0 * potency
    nat_core = (p["k_nat"] * ligand * (1.0 - p["i_self"] * hla * kir) * (1.0 - p["hyp_supp"] * hypoxia) * f_is
                * potency) if is_nk else zero
    adcc = p["k_adcc"] * f_is * potency if is_nk else zero
    eng_u = eng_t = zero
    if engager is not None and is_nk:
        base = p["k_adcc"] * p["k_eng_rel"] * f_is * potency
        cd16 = "CD16" in engager.binding
        nkp46 = (1.0 - p["hyp_supp"] * hypoxia) if "NKp46" in engager.binding else zero
        arm_u = np.maximum(1.0 if cd16 else zero, nkp46)
        arm_t = np.maximum((1.0 + (p["m_cd16"] if construct.hn_cd16 else 0.0)) if cd16 else zero, nkp46)
        eng_u = base * tgf_factor(tgfb, p["tgf_ic50_adcc"]) * arm_u
        eng_t = base * tgf_factor(tgfb_t, p["tgf_ic50_adcc"]) * arm_t
    return {
        "eng_u": eng_u,
        "eng_t": eng_t,
        "nat_u": nat_core * tgf_factor(tgfb, p["tgf_ic50_nat"]),
        "nat_t": nat_core * tgf_factor(tgfb_t, p["tgf_ic50_nat"]),
        "car_t": p["k_car"] * tgf_factor(tgfb_t, p["tgf_ic50_car"]) * f_is * potency * cd28_effector(p, construct, is_nk)
        if construct.has_car else zero,
        "adcc_u": adcc * tgf_factor(tgfb, p["tgf_ic50_adcc"]),
        "adcc_t": adcc * tgf_factor(tgfb_t, p["tgf_ic50_adcc"]) * (1.0 + (p["m_cd16"] if construct.hn_cd16 else 0.0)),
    }


def cd28_t_cell(construct: Construct, is_nk: bool) -> bool:
    """A CD28-costimulated CAR T-cell product (its program is shorter and its effector function stronger than 4-1BB's;
    a CD28 domain on NK changes neither)."""
    return construct.costim == "CD28" and not is_nk


def cd28_effector(p: Mapping[str, object], construct: Construct, is_nk: bool):
    """CAR kill rate (and cytokine release) of a CD28-costimulated CAR T cell relative to 4-1BB, the reference:
    ``cd28_effector``; 1 for other domains and for NK (``p`` needs ``cd28_effector`` only for a CD28 T cell)."""
    return p["cd28_effector"] if cd28_t_cell(construct, is_nk) else 1.0


def cell_intrinsic_factors(p: Mapping[str, object], construct: Construct, *, tgfb, f_is, potency) -> dict[str, object]:
    """Per-group factors of effectors in a lesion beyond the kill rate: ``tgf_t``/``tgf_u``, the cell-intrinsic
    TGF-beta factor TGF(``tgf_ic50_fn``) (granule content, i.e. the serial-kill budget; lesion proliferation), and
    ``ifn_t``/``ifn_u``, IFN-gamma secretion relative to an unsuppressed NK (x immunosuppression x potency).
    dnTGFBR2 rescues transduced cells as for the pathways."""
    tgf_t = tgf_factor(tgfb_seen_by_transduced(p, construct, tgfb), p["tgf_ic50_fn"])
    tgf_u = tgf_factor(tgfb, p["tgf_ic50_fn"])
    return {"tgf_t": tgf_t, "tgf_u": tgf_u, "ifn_t": tgf_t * f_is * potency, "ifn_u": tgf_u * f_is * potency}


def car_class_weights(construct: Construct, antigens: Sequence[str], ligand) -> np.ndarray:
    """CAR targeting weight of each antigen class (class bit j = carries ``antigens[j]``): 1 where the CAR's targets
    are present (OR: any, AND: all; a target the classes do not list is absent), 0 elsewhere; an NKG2D-ligand CAR
    reads the ligand level on every class. Shape (classes,) or (patients, classes) for a per-patient ligand."""
    nc = 1 << len(antigens)
    if not construct.has_car:
        return np.zeros(nc)
    bits = np.array([[(a >> j) & 1 for j in range(len(antigens))] for a in range(nc)], dtype=bool).reshape(nc, -1)
    cols = [antigens.index(t) if t in antigens else -1 for t in construct.car_targets if t != "NKG2DL"]
    present = [bits[:, j] if j >= 0 else np.zeros(nc, bool) for j in cols]
    w = np.zeros(nc)
    if present:
        hit = np.all(present, axis=0) if construct.car_logic == "AND" else np.any(present, axis=0)
        w = hit.astype(float)
    if "NKG2DL" in construct.car_targets:
        w = np.maximum(w, np.asarray(ligand, dtype=float)[..., None])
    return w
