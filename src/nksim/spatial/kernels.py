"""Numba kernels of the ABM: NK state machine (minute steps), NK entry from vessels, tumor-cell step.

Every event is a rate (per min); within one NK step the agent runs its own exact event loop: an event happens when
u < 1 - exp(-total_rate * time_left), at time -log(1 - u) / total_rate, and the loop continues on the time left
(at most MAX_EVENTS per step). Agents are updated one after the other in index order (rotated each step): the
deterministic conflict rule for a voxel or a target that two agents want.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nksim.numba_cache import renamed_copy
from nksim.spatial.params import (
    C_ADCCMASK, C_CARMASK, C_DIMS, C_NX, C_NY, C_NZ, C_SEED, CONJ, DEAD, EMPTY, EXHAUSTED, F_CHEM, F_IL15, F_O2,
    F_TGF, GONE, I_CHEMK, I_CHI, I_DELTA0, I_DT, I_EC50_15, I_FCAR, I_FCOMP, I_HOP, I_HYPK, I_HYPSUPP,
    I_IC50ADCC, I_IC50CAR, I_IC50NAT, I_KAPPA, I_KCONJ, I_KDET, I_KREC, I_KREL, I_RADCC, I_RCAR, I_RNAT, I_SMAX,
    I_SMEM, I_TGFMULT, I_TUMMOT, I_WELLMIXED, K_ADCC, K_CAR, K_CONJ, K_DEATH, K_DETACH, K_DIV, K_ENTER, K_EXH,
    K_INFIL, K_NAT, K_NECRO, K_NEG, K_NKUPD, K_POS, K_REC, K_TUPD, RELEASE, SEARCH, TUMOR, VESSEL,
)
from nksim.spatial.rng import (
    P_BUDGET, P_CAR, P_COMP, P_ENTRY, P_ENTRY_POS, P_TUMOR_DEATH, P_TUMOR_DIR, P_TUMOR_DIV, geometric_budget,
    poisson_small, uniform,
)

MAX_EVENTS = 8


@njit(cache=True, inline="always")
def neighbours(v: np.int64, nx: np.int64, ny: np.int64, nz: np.int64, out: np.ndarray) -> int:
    """Von Neumann neighbours of voxel v inside the box, written to out; returns how many."""
    nxy = nx * ny
    q = v // nx
    x = v - q * nx
    if nz > 1:
        z = q // ny
        y = q - z * ny
    else:
        z = 0
        y = q
    n = 0
    if x > 0:
        out[n] = v - 1
        n += 1
    if x < nx - 1:
        out[n] = v + 1
        n += 1
    if y > 0:
        out[n] = v - nx
        n += 1
    if y < ny - 1:
        out[n] = v + nx
        n += 1
    if nz > 1:
        if z > 0:
            out[n] = v - nxy
            n += 1
        if z < nz - 1:
            out[n] = v + nxy
            n += 1
    return n


@njit(cache=True, inline="always")
def il15_signal(il15: float, ec50: float, s_mem: float) -> float:
    u = il15 / ec50
    s = u / (1.0 + u)
    return 1.0 - (1.0 - s_mem) * (1.0 - s)


@njit(cache=True, inline="always")
def _update_agent(i, gstep, pos, state, ids, comp, car, budget, kills, target, reached, cell, ag, engaged, nk_occ, F,
                  p, cfg, counters, nb, cand, wts):
    """Advance NK agent i by one NK step: its own exact event loop on the step's time."""
    nx, ny, nz = cfg[C_NX], cfg[C_NY], cfg[C_NZ]
    nvox = nx * ny * nz
    seed = cfg[C_SEED]
    car_mask, adcc_mask = cfg[C_CARMASK], cfg[C_ADCCMASK]
    nbs = 2 * cfg[C_DIMS] + 1
    dt = p[I_DT]
    well_mixed = p[I_WELLMIXED] > 0.5
    counters[K_NKUPD] += 1
    aid = ids[i]
    tleft = dt
    for k in range(MAX_EVENTS):
        st = state[i]
        v = pos[i]
        sig = il15_signal(F[F_IL15, v], p[I_EC50_15], p[I_SMEM] if car[i] else 0.0)
        death = p[I_DELTA0] * (1.0 - p[I_SMAX] * sig)
        r1 = 0.0  # conjugation / lytic hit (nat) / release / recovery
        r2 = 0.0  # hop / lytic hit (car)
        r3 = 0.0  # lytic hit (adcc)
        r4 = 0.0  # detach without kill
        nfree = 0
        hop = p[I_HOP]
        if cell[v] == TUMOR:
            hop *= p[I_TUMMOT]
        if st == SEARCH:
            if comp[i]:
                if cell[v] == TUMOR and engaged[v] == 0:
                    cand[nfree] = v
                    nfree += 1
                m = neighbours(v, nx, ny, nz, nb)
                for q in range(m):
                    w = nb[q]
                    if cell[w] == TUMOR and engaged[w] == 0:
                        cand[nfree] = w
                        nfree += 1
                r1 = p[I_KCONJ] * nfree / nbs
            r2 = hop
        elif st == CONJ:
            t = target[i]
            tgf = F[F_TGF, t] * (p[I_TGFMULT] if car[i] else 1.0)
            o2 = F[F_O2, t] / p[I_HYPK]
            deg = 1.0 / (1.0 + o2 * o2 * o2 * o2)
            r1 = p[I_RNAT] * (1.0 - p[I_HYPSUPP] * deg) / (1.0 + tgf / p[I_IC50NAT])
            if car[i] and (ag[t] & car_mask) != 0:
                r2 = p[I_RCAR] / (1.0 + tgf / p[I_IC50CAR])
            if (ag[t] & adcc_mask) != 0:
                r3 = p[I_RADCC] / (1.0 + tgf / p[I_IC50ADCC])
            r4 = p[I_KDET]
        elif st == RELEASE:
            r1 = p[I_KREL]
        else:  # EXHAUSTED
            r1 = p[I_KREC] * sig
            r2 = hop
        total = r1 + r2 + r3 + r4 + death
        if total <= 0.0:
            break
        u = uniform(seed, aid, gstep, 4 * k)
        if u >= -np.expm1(-total * tleft):
            break
        tleft += np.log1p(-u) / total
        w = uniform(seed, aid, gstep, 4 * k + 1) * total
        u3 = uniform(seed, aid, gstep, 4 * k + 2)
        if w < death:
            if st == CONJ:
                engaged[target[i]] = 0
            nk_occ[v] = 0
            state[i] = GONE
            counters[K_DEATH] += 1
            break
        w -= death
        if st == SEARCH or st == EXHAUSTED:
            if st == SEARCH and w < r1:
                t = cand[min(int(u3 * nfree), nfree - 1)]
                engaged[t] = 1
                target[i] = t
                state[i] = CONJ
                counters[K_CONJ] += 1
            elif st == EXHAUSTED and w < r1:
                budget[i] = geometric_budget(p[I_KAPPA], uniform(seed, aid, gstep, P_BUDGET + k))
                state[i] = SEARCH
                counters[K_REC] += 1
            else:  # hop
                dest = -1
                if well_mixed:
                    d = min(np.int64(u3 * nvox), nvox - 1)
                    if nk_occ[d] == 0 and cell[d] != VESSEL:
                        dest = d
                else:
                    m = neighbours(v, nx, ny, nz, nb)
                    c0 = F[F_CHEM, v]
                    wsum = 0.0
                    nc = 0
                    for q in range(m):
                        d = nb[q]
                        if nk_occ[d] == 0 and cell[d] != VESSEL:
                            c1 = F[F_CHEM, d]
                            ww = np.exp(p[I_CHI] * (c1 - c0) / (c1 + c0 + p[I_CHEMK]))
                            cand[nc] = d
                            wts[nc] = ww
                            wsum += ww
                            nc += 1
                    if nc > 0:
                        x = u3 * wsum
                        q = 0
                        while q < nc - 1 and x >= wts[q]:
                            x -= wts[q]
                            q += 1
                        dest = cand[q]
                if dest >= 0:
                    nk_occ[v] = 0
                    nk_occ[dest] = 1
                    pos[i] = dest
                    if reached[i] == 0:
                        hit = cell[dest] == TUMOR
                        if not hit:
                            m = neighbours(dest, nx, ny, nz, nb)
                            for q in range(m):
                                if cell[nb[q]] == TUMOR:
                                    hit = True
                                    break
                        if hit:
                            reached[i] = 1
                            counters[K_INFIL] += 1
        elif st == CONJ:
            t = target[i]
            if w < r1 + r2 + r3:  # lytic hit: the target dies
                if w < r1:
                    counters[K_NAT] += 1
                elif w < r1 + r2:
                    counters[K_CAR] += 1
                else:
                    counters[K_ADCC] += 1
                if (ag[t] & car_mask) != 0:
                    counters[K_POS] += 1
                else:
                    counters[K_NEG] += 1
                cell[t] = DEAD
                engaged[t] = 0
                kills[i] += 1
                budget[i] -= 1
                state[i] = RELEASE
            else:  # detach without a kill
                engaged[t] = 0
                state[i] = SEARCH
                counters[K_DETACH] += 1
            target[i] = -1
        elif st == RELEASE:
            if budget[i] <= 0:
                state[i] = EXHAUSTED
                counters[K_EXH] += 1
            else:
                state[i] = SEARCH


@njit(cache=True)
def nk_steps(n_sub, step0, n_nk, pos, state, ids, comp, car, budget, kills, target, reached, cell, ag, engaged,
             nk_occ, F, p, cfg, counters):
    """Advance n_nk NK agents by n_sub NK steps, one after the other (index order rotated each step); used for
    well-mixed assays and lattices too narrow for bands. Fields are read, not changed."""
    nb = np.empty(6, dtype=np.int64)
    cand = np.empty(7, dtype=np.int64)
    wts = np.empty(7)
    for s in range(n_sub):
        gstep = step0 + s
        off = gstep % n_nk if n_nk > 0 else 0
        for jj in range(n_nk):
            i = jj + off
            if i >= n_nk:
                i -= n_nk
            if state[i] == GONE:
                continue
            _update_agent(i, gstep, pos, state, ids, comp, car, budget, kills, target, reached, cell, ag, engaged,
                          nk_occ, F, p, cfg, counters, nb, cand, wts)


# a called (not inlined) copy for the parallel kernel: keeps its compile time short
_update_agent_called = njit(cache=True)(renamed_copy(_update_agent.py_func, "_update_agent_called"))

BAND_WIDTH = 2 * (MAX_EVENTS + 1) + 6  # x-bands wider than two agents' reach within one step


@njit(cache=True, parallel=True)
def nk_steps_banded(n_sub, step0, n_nk, pos, state, ids, comp, car, budget, kills, target, reached, cell, ag,
                    engaged, nk_occ, F, p, cfg, counters):
    """Same as :func:`nk_steps` but in parallel: the lattice is cut into x-bands of BAND_WIDTH voxels; even bands
    run concurrently, then odd bands. An agent moves at most MAX_EVENTS voxels (and senses one more) per step, so
    agents of concurrent bands never touch the same voxel; within a band agents go in index order (rotated each
    step). The result does not depend on the number of threads."""
    nx = cfg[C_NX]
    nbands = (nx + BAND_WIDTH - 1) // BAND_WIDTH
    ncnt = counters.shape[0]
    for s in range(n_sub):
        gstep = step0 + s
        start = np.zeros(nbands + 1, dtype=np.int64)
        for i in range(n_nk):
            if state[i] != GONE:
                start[(pos[i] % nx) // BAND_WIDTH + 1] += 1
        for b in range(nbands):
            start[b + 1] += start[b]
        fill = start[:-1].copy()
        order = np.empty(start[nbands], dtype=np.int64)
        for i in range(n_nk):
            if state[i] != GONE:
                b = (pos[i] % nx) // BAND_WIDTH
                order[fill[b]] = i
                fill[b] += 1
        local = np.zeros((nbands, ncnt), dtype=np.int64)
        for color in range(2):
            nb_c = (nbands - color + 1) // 2
            for kb in prange(nb_c):
                b = 2 * kb + color
                nb = np.empty(6, dtype=np.int64)
                cand = np.empty(7, dtype=np.int64)
                wts = np.empty(7)
                m = start[b + 1] - start[b]
                if m == 0:
                    continue
                off = gstep % m
                for jj in range(m):
                    j = jj + off
                    if j >= m:
                        j -= m
                    i = order[start[b] + j]
                    _update_agent_called(i, gstep, pos, state, ids, comp, car, budget, kills, target, reached,
                                         cell, ag, engaged, nk_occ, F, p, cfg, local[b], nb, cand, wts)
        for b in range(nbands):
            for c in range(ncnt):
                counters[c] += local[b, c]


@njit(cache=True)
def nk_entry(fstep, dt_min, rate_per_vessel_day, chemo_gain, vessels, n_nk, capacity, pos, state, ids, comp, car,
             budget, kills, target, reached, next_id, cell, nk_occ, F, p, cfg, counters):
    """NK entry at vessel voxels during one field step (Poisson per vessel, counter-based draws); returns
    (new n_nk, new next_id). Entrants land on a free neighbouring voxel; none if every neighbour is taken."""
    nx, ny, nz = cfg[C_NX], cfg[C_NY], cfg[C_NZ]
    seed = cfg[C_SEED]
    nb = np.empty(6, dtype=np.int64)
    free = np.empty(6, dtype=np.int64)
    for j in range(vessels.shape[0]):
        v = vessels[j]
        c = F[F_CHEM, v]
        lam = rate_per_vessel_day * (1.0 + chemo_gain * c / (c + 0.5)) * dt_min / 1440.0
        n_new = poisson_small(lam, uniform(seed, v, fstep, P_ENTRY))
        for e in range(n_new):
            if n_nk >= capacity:
                return n_nk, next_id
            m = neighbours(v, nx, ny, nz, nb)
            nf = 0
            for q in range(m):
                if nk_occ[nb[q]] == 0 and cell[nb[q]] != VESSEL:
                    free[nf] = nb[q]
                    nf += 1
            if nf == 0:
                break
            d = free[min(int(uniform(seed, v, fstep * 64 + e, P_ENTRY_POS) * nf), nf - 1)]
            add_nk(n_nk, next_id, d, pos, state, ids, comp, car, budget, kills, target, reached, nk_occ, cell,
                   p, cfg, nx, ny, nz, nb)
            counters[K_ENTER] += 1
            if reached[n_nk]:
                counters[K_INFIL] += 1
            n_nk += 1
            next_id += 1
    return n_nk, next_id


@njit(cache=True)
def add_nk(i, aid, d, pos, state, ids, comp, car, budget, kills, target, reached, nk_occ, cell, p, cfg, nx, ny, nz,
           nb):
    """Create NK number aid in slot i at voxel d; its traits are counter-based draws keyed by its id."""
    seed = cfg[C_SEED]
    pos[i] = d
    state[i] = SEARCH
    ids[i] = aid
    comp[i] = 1 if uniform(seed, aid, 0, P_COMP) < p[I_FCOMP] else 0
    car[i] = 1 if uniform(seed, aid, 0, P_CAR) < p[I_FCAR] else 0
    budget[i] = geometric_budget(p[I_KAPPA], uniform(seed, aid, 0, P_BUDGET))
    kills[i] = 0
    target[i] = -1
    nk_occ[d] = 1
    hit = cell[d] == TUMOR
    m = neighbours(d, nx, ny, nz, nb)
    for q in range(m):
        if cell[nb[q]] == TUMOR:
            hit = True
    reached[i] = 1 if hit else 0


@njit(cache=True)
def seed_nk(candidates, n_nk, next_id, pos, state, ids, comp, car, budget, kills, target, reached, nk_occ, cell, p,
            cfg, counters):
    """Place initial NK at the given candidate voxels (already shuffled, distinct)."""
    nx, ny, nz = cfg[C_NX], cfg[C_NY], cfg[C_NZ]
    nb = np.empty(6, dtype=np.int64)
    for j in range(candidates.shape[0]):
        add_nk(n_nk, next_id, candidates[j], pos, state, ids, comp, car, budget, kills, target, reached, nk_occ,
               cell, p, cfg, nx, ny, nz, nb)
        if reached[n_nk]:
            counters[K_INFIL] += 1
        n_nk += 1
        next_id += 1
    return n_nk, next_id


@njit(cache=True)
def tumor_step(tstep, dt_min, cell, ag, engaged, fresh, newborn, F, use_o2, div_per_day, k_o2, o2_necro,
               necro_per_day, clear_per_day, cfg, counters):
    """One tumor step: division into a free (empty) neighbour, hypoxic necrosis, clearance of dead cells."""
    nx, ny, nz = cfg[C_NX], cfg[C_NY], cfg[C_NZ]
    seed = cfg[C_SEED]
    nvox = nx * ny * nz
    nb = np.empty(6, dtype=np.int64)
    free = np.empty(6, dtype=np.int64)
    p_clear = -np.expm1(-clear_per_day * dt_min / 1440.0)
    p_necro = -np.expm1(-necro_per_day * dt_min / 1440.0)
    nnew = 0
    for v in range(nvox):
        c = cell[v]
        if c == TUMOR:
            if fresh[v] or engaged[v]:
                continue
            counters[K_TUPD] += 1
            o2 = F[F_O2, v] if use_o2 else 1e9
            if o2 < o2_necro:
                if uniform(seed, v, tstep, P_TUMOR_DEATH) < p_necro:
                    cell[v] = DEAD
                    counters[K_NECRO] += 1
                continue
            rate = div_per_day * o2 / (o2 + k_o2) if use_o2 else div_per_day
            if rate <= 0.0:
                continue
            if uniform(seed, v, tstep, P_TUMOR_DIV) < -np.expm1(-rate * dt_min / 1440.0):
                m = neighbours(v, nx, ny, nz, nb)
                nf = 0
                for q in range(m):
                    if cell[nb[q]] == EMPTY:
                        free[nf] = nb[q]
                        nf += 1
                if nf > 0:
                    d = free[min(int(uniform(seed, v, tstep, P_TUMOR_DIR) * nf), nf - 1)]
                    cell[d] = TUMOR
                    ag[d] = ag[v]
                    fresh[d] = 1
                    newborn[nnew] = d
                    nnew += 1
                    counters[K_DIV] += 1
        elif c == DEAD and p_clear > 0.0:
            if uniform(seed, v, tstep, P_TUMOR_DEATH) < p_clear:
                cell[v] = EMPTY
                ag[v] = 0
    for j in range(nnew):
        fresh[newborn[j]] = 0


@njit(cache=True)
def compact(n_nk, pos, state, ids, comp, car, budget, kills, target, reached, kill_hist):
    """Drop dead NK (order kept) and add their kill counts to kill_hist; returns the new count."""
    j = 0
    hmax = kill_hist.shape[0] - 1
    for i in range(n_nk):
        if state[i] == GONE:
            kill_hist[min(kills[i], hmax)] += 1
            continue
        if j != i:
            pos[j] = pos[i]
            state[j] = state[i]
            ids[j] = ids[i]
            comp[j] = comp[i]
            car[j] = car[i]
            budget[j] = budget[i]
            kills[j] = kills[i]
            target[j] = target[i]
            reached[j] = reached[i]
        j += 1
    return j
