"""Benchmark of the spatial ABM (nksim.spatial) against a plain-Mesa implementation of the same rules.

    .venv/bin/python benchmarks/spatial_bench.py            # Mesa baseline vs nksim (small) + throughput + target
    .venv/bin/python benchmarks/spatial_bench.py --full     # also run the full 21-day 1e6-tumor / 1e5-NK target

An agent-update is one agent (tumor cell or NK) advanced by one of its own time steps (NK: dt_nk = 1 min; tumor
cells: dt_tumor = 60 min; fields: dt_field = 10 min, their time is included in nksim's figures). Mesa is an
optional `bench` extra; it is imported here only.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from nksim.spatial import Simulation
from nksim.spec.spatial import load_spatial_spec

# ------------------------------------------------------------------------------------------- Mesa baseline
K_CONJ, R_HIT, K_DET, K_REL, HOP, KAPPA, DIV_PER_MIN = 0.2, 0.06, 0.02, 0.1, 0.2, 4.0, 0.3 / 1440.0


def mesa_model(size: int, n_nk: int, tumor_density: float, seed: int):
    import mesa
    from mesa.space import MultiGrid

    class Tumor(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            self.engaged = False
            self.alive = True

        def step(self):  # one tumor step (60 min): divide into an empty neighbour
            if not self.alive or self.engaged:
                return
            if self.random.random() < 1 - math.exp(-DIV_PER_MIN * 60):
                free = [p for p in list(self.model.grid.get_neighborhood(self.pos, moore=False))
                        if not any(isinstance(a, Tumor) for a in self.model.grid.get_cell_list_contents([p]))]
                if free:
                    d = Tumor(self.model)
                    self.model.grid.place_agent(d, self.random.choice(free))
                    self.model.tumor.append(d)

    class NK(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            self.state = "search"
            self.comp = self.random.random() < 0.5
            self.budget = 1 + int(math.log(1 - self.random.random()) / math.log(1 - 1 / KAPPA))
            self.target = None
            self.kills = 0

        def step(self):  # one NK step (1 min), rates converted as 1 - exp(-rate dt)
            g = self.model.grid
            if self.state == "search":
                if self.comp:
                    cells = [self.pos, *g.get_neighborhood(self.pos, moore=False)]
                    free = [a for a in g.get_cell_list_contents(cells)
                            if isinstance(a, Tumor) and a.alive and not a.engaged]
                    if free and self.random.random() < 1 - math.exp(-K_CONJ * len(free) / 5):
                        self.target = self.random.choice(free)
                        self.target.engaged = True
                        self.state = "conj"
                        return
                if self.random.random() < 1 - math.exp(-HOP):
                    g.move_agent(self, self.random.choice(g.get_neighborhood(self.pos, moore=False)))
            elif self.state == "conj":
                u = self.random.random()
                if u < 1 - math.exp(-R_HIT):
                    self.target.alive = False
                    self.target.engaged = False
                    self.kills += 1
                    self.budget -= 1
                    self.state = "release"
                elif u < 1 - math.exp(-(R_HIT + K_DET)):
                    self.target.engaged = False
                    self.state = "search"
            elif self.state == "release":
                if self.random.random() < 1 - math.exp(-K_REL):
                    self.state = "search" if self.budget > 0 else "exhausted"

    class M(mesa.Model):
        def __init__(self):
            super().__init__(rng=seed)
            self.grid = MultiGrid(size, size, torus=False)
            self.tumor, self.nk = [], []
            for x in range(size):
                for y in range(size):
                    if self.random.random() < tumor_density:
                        t = Tumor(self)
                        self.grid.place_agent(t, (x, y))
                        self.tumor.append(t)
            for _ in range(n_nk):
                a = NK(self)
                self.grid.place_agent(a, (self.random.randrange(size), self.random.randrange(size)))
                self.nk.append(a)
            self.updates = 0
            self.minute = 0

        def step(self):
            for a in self.nk:
                a.step()
            self.updates += len(self.nk)
            self.minute += 1
            if self.minute % 60 == 0:
                for t in list(self.tumor):
                    t.step()
                self.updates += len(self.tumor)

    return M()


def bench_mesa(size=50, n_nk=100, minutes=240, seed=0) -> float:
    m = mesa_model(size, n_nk, 0.8, seed)
    t0 = time.perf_counter()
    for _ in range(minutes):
        m.step()
    dt = time.perf_counter() - t0
    return m.updates / dt


def nksim_spec(size: int, n_nk: int, days: float, dims: int = 2, bands: bool = False):
    s = (size,) * dims
    return load_spatial_spec("hcc-gpc3-car").with_updates(**{
        "tissue.size": s, "tissue.dims": dims, "tissue.layout": "filled", "tissue.tumor_density": 0.8,
        "nk.initial_nk": n_nk, "nk.initial_placement": "uniform", "time.days": days, "time.snapshots": 0,
        "time.record_every_min": 360.0, "product.il15": "secreted", "time.nk_parallel_bands": bands})


def bench_nksim(size: int, n_nk: int, days: float, dims: int = 2, seed: int = 0,
                bands: bool = False) -> tuple[float, float, dict]:
    sim = Simulation.create(nksim_spec(size, n_nk, days, dims, bands), seed=seed)
    u0 = sim.agent_updates()
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    tm = sim.timings
    return (sim.agent_updates() - u0) / wall, wall, {"fields_s": tm.fields_s, "nk_s": tm.nk_s, "tumor_s": tm.tumor_s,
                                                     "other_s": tm.other_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="run the complete 21-day 1e6 tumor / 1e5 NK target")
    ap.add_argument("--target-days", type=float, default=0.5, help="days of the target run to time (extrapolated)")
    ap.add_argument("--bands", action="store_true", help="target run with NK in parallel x-bands")
    ap.add_argument("--target-only", action="store_true", help="skip the Mesa and throughput sections")
    args = ap.parse_args()

    # warm-up (numba compile / cache load) outside the timings
    bench_nksim(40, 50, 0.05)

    if args.target_only:
        return target(args)
    print("== same rules, small size (50x50 lattice, 80% tumor, 100 NK, 4 h) ==")
    try:
        mesa_rate = bench_mesa()
        print(f"Mesa (plain Python, MultiGrid, no fields): {mesa_rate:,.0f} agent-updates/s")
    except ImportError:
        mesa_rate = float("nan")
        print("Mesa not installed (pip install nksim[bench]); baseline skipped")
    rate_small, wall, parts = bench_nksim(50, 100, 4 / 24)
    agents_only = rate_small * wall / max(parts["nk_s"] + parts["tumor_s"], 1e-12)
    print(f"nksim (numba, fields included):         {rate_small:,.0f} agent-updates/s")
    print(f"nksim, agent kernels only (no fields):  {agents_only:,.0f} agent-updates/s")
    print(f"ratio nksim / Mesa at the same size:     {rate_small / mesa_rate:,.1f}x with fields, "
          f"{agents_only / mesa_rate:,.1f}x agents only (Mesa has no fields)")

    print(f"numba threads: {__import__('numba').get_num_threads()}; load average: {__import__('os').getloadavg()}")
    print("\n== throughput, larger region (2D 700x700 ~ 3.9e5 tumor cells, 4e4 NK, 0.25 d) ==")
    rate, wall, parts = bench_nksim(700, 40_000, 0.25)
    print(f"nksim: {rate:,.3g} agent-updates/s (wall {wall:.1f} s; " +
          ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) + ")")
    bench_nksim(100, 500, 0.02, bands=True)  # compile the banded kernel
    rate_b, wall_b, parts_b = bench_nksim(700, 40_000, 0.25, bands=True)
    print(f"nksim, NK in parallel x-bands: {rate_b:,.3g} agent-updates/s (wall {wall_b:.1f} s; " +
          ", ".join(f"{k} {v:.1f}" for k, v in parts_b.items()) + ")")
    rate = max(rate, rate_b)
    print(f"goal >= 1e7 agent-updates/s: {'met' if rate >= 1e7 else 'NOT met'} (ratio {rate / 1e7:.2f})")
    print(f"ratio nksim(large) / Mesa(small): {rate / mesa_rate:,.0f}x")

    target(args)


def target(args) -> None:
    print("\n== binding target: 1e6 tumor cells + 1e5 NK, 21 days, dt_nk 1 min / dt_field 10 min / dt_tumor 60 min ==")
    days = 21.0 if args.full else args.target_days
    rate_t, wall_t, parts_t = bench_nksim(1118, 100_000, days, bands=args.bands)
    est = wall_t * 21.0 / days
    print(f"(NK parallel x-bands: {args.bands}) timed {days} d: wall {wall_t:.1f} s ({rate_t:,.3g} agent-updates/s; " +
          ", ".join(f"{k} {v:.1f}" for k, v in parts_t.items()) + ")")
    label = "measured" if args.full else "extrapolated linearly from the timed span"
    print(f"21 days {label}: {est / 60:.1f} min (target < 30 min: {'met' if est < 1800 else 'NOT met'})")


if __name__ == "__main__":
    main()
