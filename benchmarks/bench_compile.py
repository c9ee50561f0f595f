"""Cold-compile benchmark: the first configuration's compile in a fresh process with an empty numba cache, then a
second configuration, then the same first configuration in a second process (numba cache warm).

Each measurement runs in its own subprocess with ``NUMBA_CACHE_DIR`` pointing at a fresh temporary folder, so the
project's own caches are neither used nor touched. Prints seconds; no assertion on wall-clock time.

    python benchmarks/bench_compile.py            # 3 cold processes (fastest and all), 1 warm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, time
t = time.perf_counter()
import numpy as np
import nksim
from nksim.kinetics import solver
from nksim.kinetics.inputs import build_inputs
from nksim.population.sampling import sample_patients
t_import = time.perf_counter() - t

def first(name, lesions):
    sc = nksim.load_scenario(name)
    tumor = sc.tumor.model_copy(update={"n_target_lesions": lesions, "nontarget_remainder": False})
    sc = sc.model_copy(update={"tumor": tumor})
    inp = build_inputs(sc, sample_patients(sc, np.arange(4)))
    times = []
    for _ in range(2):
        t, c = time.perf_counter(), time.process_time()
        solver.solve_batch(inp.y0, inp.params, inp.n_lesions, inp.n_classes, inp.ev_t, inp.ev_k, inp.ev_a,
                           inp.ev_b, inp.t0, inp.t_end, np.array([0.0, 30.0]), 1e-6, inp.atol, 100_000)
        times.append((time.perf_counter() - t, time.process_time() - c))
    return [times[0][k] - times[1][k] for k in (0, 1)]  # compile = first call minus a warm call (wall, CPU)

c1 = first("hcc-post-lt-allo-nk", 1)
c2 = first("hcc-gpc3-car-nk-il15", 3)
print(json.dumps({"import": t_import, "first": c1, "second": c2}))
"""


def once(cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    colds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            colds.append(once(d))
            if _ == args.repeat - 1:
                warm = once(d)
    def fmt(key: str) -> str:
        return ", ".join(f"{c[key][0]:.2f} ({c[key][1]:.2f})" for c in colds)

    print("seconds wall (CPU) per process:")
    print("cold first configuration (compile): " + fmt("first")
          + f"  fastest {min(c['first'][0] for c in colds):.2f}")
    print("cold second configuration:          " + fmt("second"))
    print("import nksim (wall):                " + ", ".join(f"{c['import']:.2f}" for c in colds))
    print(f"warm process (numba cache filled): first {warm['first'][0]:.2f} ({warm['first'][1]:.2f}), "
          f"second {warm['second'][0]:.2f} ({warm['second'][1]:.2f})")


if __name__ == "__main__":
    main()
