"""Population fit: typical values and between-subject variances by an EM form of the global two-stage method.

Why this method. The model is an ODE system evaluated by the compiled engine, many subjects per call; each subject's
conditional problem is small (a few parameters), and the data per subject can be sparse (some BLQ). The global
two-stage method (Steimer et al. 1984) in its EM form with Laplace (normal) conditional distributions needs only
conditional modes and their curvature, both obtained for all subjects at once with batched finite differences:

1. start: the pooled fit, then individual fits (the standard two-stage mean and variance) as mu, Omega;
2. E-step: for every subject the conditional mode phi_i = argmin -log L_i(phi) + (phi - mu)' Omega^-1 (phi - mu) / 2
   (all subjects in one optimization: the objective is separable, gradients batched), the residual error parameters
   re-estimated with them, and C_i = the inverse Hessian at phi_i (normal approximation of the conditional);
   parameters without variability (when ``omega2:NAME`` entries restrict it) are one value for all subjects,
   optimized jointly with the modes (a joint conditional maximization for those fixed effects);
3. M-step: mu = mean(phi_i), Omega_jj = mean((phi_ij - mu_j)^2 + C_i,jj) (diagonal Omega);
4. repeat until mu (in units of its omega) and log Omega move less than 1e-3.

The objective reported is the Laplace approximation of the marginal -2 log L. Unlike the standard two-stage method
it does not inflate Omega by the individual estimation error, and subjects with little information shrink to mu.
Standard errors: Var(mu) = (sum_i W_i)^-1 with W_i = (Omega + S_i)^-1 (S_i the individual estimate's covariance,
computed as Omega^-1 - Omega^-1 C_i Omega^-1 so that an uninformative subject adds nothing), and
Var(omega2_j) = 2 / sum_i W_i,jj^2 (the Fisher information of a normal variance component); a shared fixed
effect's variance is the inverse of the summed Schur complements of the subjects' Hessians over their random
effects (the Laplace information).
"""

from __future__ import annotations

import math

import numpy as np

from nksim.calibrate.likelihood import Objective
from nksim.calibrate.space import ParameterSpace

OMEGA_MIN = 1e-4  # floor of a variance (placeholder of a parameter without variability: never used as a prior)


def fit_population(obj: Objective, pooled, var_space: ParameterSpace | None, max_iter: int = 30, tol: float = 1e-3):
    from nksim.calibrate.fit import FitResult, _fit_individual, _inv, _Stacked

    k, n = pooled.phi.size, obj.n_sub
    names = pooled.names
    if var_space is None:
        iiv = np.ones(k, bool)
        om_hi = np.full(k, 4.0)
    else:
        vnames = {p.registry_name: p for p in var_space.params}
        iiv = np.array([nm in vnames for nm in names])
        om_hi = np.array([vnames[nm].high if nm in vnames else OMEGA_MIN for nm in names])
    logs = obj.tr.logs
    th = obj.tr.to_theta(pooled.phi)
    # omega2 bounds are given on nksim's scale (log scale, or relative for linear parameters): to the phi scale
    om_hi_phi = np.where(logs, om_hi, om_hi * th ** 2)
    ind = _fit_individual(obj, pooled)
    b = np.flatnonzero(iiv)  # columns with variability (random effects)
    c = np.flatnonzero(~iiv)  # fixed effects shared by every subject
    mu = ind.phi.copy()
    omega = np.where(iiv, np.clip(ind.omega2 if ind.omega2 is not None else np.full(k, 0.1),
                                  OMEGA_MIN, om_hi_phi), OMEGA_MIN)
    phi = ind.phi_ind.copy()
    phi[:, c] = mu[c]
    err = ind.err
    history = []
    H = np.zeros((n, k, k))
    Cb = np.repeat(np.diag(omega[b])[None], n, axis=0)
    obj_val = math.nan
    converged = False
    for it in range(max_iter):
        oinv = np.diag(np.where(iiv, 1.0 / omega, 0.0))
        st = _Stacked(obj, err, shared=False, fit_err=True, phi_fixed=phi, prior=(mu, oinv), common=c)
        r = st.minimize(st.pack(phi, err), maxiter=300)
        phi, err = st.unpack(r.x)
        st_fixed = _Stacked(obj, err, shared=False, fit_err=False, phi_fixed=phi, prior=(mu, oinv), common=c)
        H = st_fixed.subject_hessians(phi, err)
        H = 0.5 * (H + np.transpose(H, (0, 2, 1)))
        Hb = H[:, b][:, :, b]
        Cb = np.empty_like(Hb)
        for i in range(n):
            ci, ok = _inv(Hb[i])
            Cb[i] = ci if ok else np.diag(omega[b])
        # Laplace -2 log L at (mu, omega, err): random effects integrated out
        logdet_h = sum(np.linalg.slogdet(Hb[i])[1] for i in range(n))
        obj_val = 2 * float(r.fun) + n * float(np.sum(np.log(omega[b]))) + float(logdet_h)
        mu_new = phi.mean(axis=0)
        om_new = omega.copy()
        om_new[b] = np.mean((phi[:, b] - mu_new[b]) ** 2 + np.einsum("ijj->ij", Cb), axis=0)
        om_new = np.where(iiv, np.clip(om_new, OMEGA_MIN, om_hi_phi), OMEGA_MIN)
        scale = np.where(iiv, np.sqrt(om_new), 1.0)
        step = max(float(np.max(np.abs(mu_new - mu) / scale)), float(np.max(np.abs(np.log(om_new / omega)))))
        history.append({"iteration": it + 1, "m2ll_laplace": obj_val, "step": step,
                        **{f"mu_{nm}": v for nm, v in zip(names, obj.tr.to_theta(mu_new))},
                        **{f"omega2_{nm}": v for nm, v, w in zip(names, om_new, iiv) if w}})
        mu, omega = mu_new, om_new
        if step < tol:
            converged = True
            break
    # standard errors: typical values of the random effects from W_i = (Omega + S_i)^-1, shared fixed effects from
    # the Laplace information (the Schur complement of each subject's Hessian over its random effects)
    cov_mu = np.zeros((k, k))
    ob_inv = np.diag(1.0 / omega[b])
    W = np.array([ob_inv - ob_inv @ Cb[i] @ ob_inv for i in range(n)])
    W = 0.5 * (W + np.transpose(W, (0, 2, 1)))
    cov_b, ok = _inv(W.sum(axis=0))
    cov_mu[np.ix_(b, b)] = cov_b if ok else np.diag(omega[b] / n)
    if c.size:
        S = sum(H[i][np.ix_(c, c)] - H[i][np.ix_(c, b)] @ Cb[i] @ H[i][np.ix_(b, c)] for i in range(n))
        cov_c, _ = _inv(np.atleast_2d(S))
        cov_mu[np.ix_(c, c)] = cov_c
    om_se = np.full(k, np.nan)
    om_se[b] = np.sqrt(2.0 / np.maximum(np.sum(np.einsum("ijj->ij", W) ** 2, axis=0), 1e-300))
    se_ind = np.full((n, k), np.nan)
    se_ind[:, b] = np.sqrt(np.maximum(np.einsum("ijj->ij", Cb), 0.0))
    notes = ["between-subject variability on the transformed scale (log for log-prior parameters), diagonal Omega; "
             "SE of omega2 from the Fisher information of a variance component"]
    if not converged:
        notes.append(f"EM stopped after {max_iter} iterations (last step {history[-1]['step']:.2g} > {tol})")
    if not np.all(iiv):
        notes.append("no variability estimated for " + ", ".join(nm for nm, v in zip(names, iiv) if not v))
    return FitResult(mode="population", space=pooled.space, names=names, phi=mu, cov_phi=cov_mu, err=err,
                     err_se_log=np.full(err.n_params, np.nan), objective_value=obj_val, n_obs=obj.n_obs,
                     data=obj.data, model=obj.model, objective=obj, scenario=pooled.scenario, omega2=omega,
                     omega2_se=om_se, iiv=iiv, phi_ind=phi, se_ind=se_ind, notes=notes, history=history)
