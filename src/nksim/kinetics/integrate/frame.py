"""What the emitted lane scheduler works on: its arguments (the cohort's inputs and outputs) and the thread's lane
arrays and per-lane control values, as IR values of one function, with the sizes fixed per configuration."""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from nksim.kinetics.codegen.irflow import DBL, I64, Flow, i64
from nksim.kinetics.lanes import W

PTR = DBL.as_pointer()
IPTR = I64.as_pointer()
VT = ir.VectorType(DBL, W)

# the solve function's arguments, in order (name, type); arrays are C-contiguous
ARGS = (
    ("y0", PTR), ("p", PTR), ("ev_t", PTR), ("ev_k", IPTR), ("ev_a", PTR), ("ev_b", PTR), ("nev", I64),
    ("t0", DBL), ("t_end", DBL), ("t_save", PTR), ("ns", I64), ("rtol", DBL), ("atol", PTR), ("max_steps", I64),
    ("rows", IPTR), ("nrows", I64), ("ys", PTR), ("als", PTR), ("sg", PTR), ("stats", IPTR),
    # kernel-tracked summaries (nksim.kinetics.integrate.trackers; nt = 0: none): per patient the quantities'
    # coefficients (tracked linear quantities x tracked columns), nt tracker rows, the window end, the outputs
    ("tq", PTR), ("tk", PTR), ("nt", I64), ("ndeath", I64), ("tcut", PTR), ("to", PTR),
    # the next index into rows that no thread has taken yet, shared by the threads of one call (atomic)
    ("claim", IPTR),
)
LANE_REALS = ("t", "h", "hs", "t_next", "t_new", "accepted", "span", "is_init", "tt", "cprev")
LANE_INTS = ("mode", "pat", "ke", "js", "n_acc", "n_rej", "rejected", "last", "status")


@dataclass
class Frame:
    """IR values of the solve function: ``a`` its arguments by name, ``lane`` the per-lane control arrays (W values
    each) and the lane arrays (rows x W doubles: row k of lane w at k W + w)."""

    f: Flow
    n: int  # states
    npar: int
    nseg: int
    nalg: int
    stages: int
    a: dict[str, ir.Value]
    lane: dict[str, ir.Value]
    Y: ir.Value
    YN: ir.Value
    YT: ir.Value
    KX: ir.Value
    KK: ir.Value
    ATOL: ir.Value
    P: ir.Value
    SEG: ir.Value
    ALG: ir.Value
    ERR: ir.Value
    SEGL: ir.Value  # (W, nseg): each lane's segment description, scalar-indexed for the event function
    ybuf: ir.Value  # (n,): one lane's state for the event function
    YA: ir.Value  # algebraic outputs at save points: inputs and outputs over W save points
    PA: ir.Value
    SA: ir.Value
    DA: ir.Value
    ALGA: ir.Value
    ALGT: ir.Value  # algebraic outputs at segment starts (the tracked algebraic quantity's start value)

    @classmethod
    def allocate(cls, fn: ir.Function, n: int, npar: int, nseg: int, nalg: int, stages: int) -> Frame:
        f = Flow(fn)
        a = {name: arg for (name, _), arg in zip(ARGS, fn.args)}
        lane = {k: f.array(DBL, W) for k in LANE_REALS}
        lane.update({k: f.array(I64, W) for k in LANE_INTS})
        arr = lambda rows: f.array(DBL, rows * W)  # noqa: E731
        return cls(f, n, npar, nseg, nalg, stages, a, lane, Y=arr(n), YN=arr(n), YT=arr(n), KX=arr(n),
                   KK=arr(stages * n), ATOL=arr(n), P=arr(npar), SEG=arr(nseg), ALG=arr(nalg), ERR=arr(2),
                   SEGL=arr(nseg), ybuf=f.array(DBL, n), YA=arr(n), PA=arr(npar), SA=arr(nseg), DA=arr(n),
                   ALGA=arr(nalg), ALGT=arr(nalg))

    # ---- addressing --------------------------------------------------------------------------------------------
    def el(self, arr: ir.Value, k: ir.Value | int, w: ir.Value | int) -> ir.Value:
        """Address of row k, lane w of a lane array."""
        b = self.f.b
        kv = i64(k) if isinstance(k, int) else k
        return self.f.at(arr, b.mul(kv, i64(W)), w)

    def row(self, arr: ir.Value, k: ir.Value | int) -> ir.Value:
        """Address of row k of a lane array as a vector."""
        b = self.f.b
        kv = i64(k) if isinstance(k, int) else k
        return b.gep(b.bitcast(arr, VT.as_pointer()), [kv], inbounds=True)

    def get(self, name: str, w: ir.Value) -> ir.Value:
        """Lane w's control value ``name``."""
        return self.f.load(self.lane[name], w)

    def put(self, name: str, w: ir.Value, v: ir.Value) -> None:
        self.f.store(v, self.lane[name], w)

    def matrix(self, name: str, i: ir.Value, j: ir.Value | int, ncol: int | ir.Value) -> ir.Value:
        """Address of element (i, j) of the argument ``name`` with ``ncol`` columns."""
        b = self.f.b
        nc = i64(ncol) if isinstance(ncol, int) else ncol
        return self.f.at(self.a[name], b.mul(i, nc), j)
