"""A generic explicit Runge-Kutta integrator for many patients at once, as diffrax structures it.

- :mod:`.tableau`: Butcher tableaus as data (Tsitouras 5(4), Dormand-Prince 5(4)), with dense output and error weights;
- :mod:`.stepir`: one step attempt of any explicit tableau over W vector lanes, its initial step and dense output,
  emitted as LLVM IR from its data;
- :mod:`.chains`: the processes' linear transit chains taken exactly inside the steps (Lawson steps on their rows);
- :mod:`.controller`: the step-size controller's accept / reject rule;
- :mod:`.segments`: dosing events and between-event segments (exact discontinuities);
- :mod:`.scheduler`: the lane scheduler (each lane its own patient, time, step and events) and worker threads;
- :mod:`.frame`: the scheduler's arguments, lane arrays and per-lane control values.

Everything is emitted as LLVM IR (with :mod:`nksim.kinetics.codegen.irflow`'s structured control flow) into a
configuration's module, next to the model's right-hand side ``rhs(t*, Y*, P*, SEG*, DY*, ALG*)`` over W lanes and its
event function ``event(kind, t, y*, p*, seg*, a, b)``, and its algebraic outputs alone ``alg(t*, Y*, P*, SEG*, ALG*)``
(evaluated at saved points) (:mod:`nksim.kinetics.codegen.llvm` builds and compiles the module). The integrator knows
nothing of the model beyond these functions and the sizes.
"""
