"""Code generators for the model traced from :mod:`nksim.kinetics.processes`.

- :mod:`.schedule`: orders an expression graph into straight-line code with guarded regions (shared by all);
- :mod:`.python`: the scalar right-hand side and event function as Python source (the reference backend compiles
  it with numba; uncompiled it is the plain-Python baseline of the benchmark);
- :mod:`.llvm`: the vector (W patients) right-hand side and the scalar event function as LLVM IR, compiled in
  process in well under a second and called by the generic integrator through function pointers;
- :mod:`.infix`: infix formulas (SBML's L3 syntax, the docs table, ``repr``);
- :mod:`.layout_file`: the committed ``nksim.kinetics._layout``.
"""
