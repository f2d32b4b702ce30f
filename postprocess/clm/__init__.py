"""The coupled landscape model (CLM) of Sects. III C–IV of the paper: a lattice of elementary systems.

Modules: :mod:`.lattice` (ES lattice and coupling range), :mod:`.processes` (active rule that
preserves p_eq, passive Boltzmann/Gaussian/energy-dependent coupling, eq. (5)), :mod:`.kinetics`
(exact event-driven numba engine: the event body and the next-reaction loop), :mod:`.composition`
(the event loop for large lattices: trials over rate-bin bounds, drawn ahead and prefetched),
:mod:`.rate_bins` and :mod:`.heap` (the two selection structures), :mod:`.links` (which coupled ES are hit),
:mod:`.rng` (per-simulation generator), :mod:`.log_bins`, :mod:`.fast_exp` and :mod:`.intrinsics`
(kernel numerics), :mod:`.simulation` (one run), :mod:`.observables` (⟨τⁿ⟩, D, S0, τα, KWW,
Stokes–Einstein), :mod:`.summary` (scan tables), :mod:`.scan` (``python -m postprocess.clm.scan
SCAN.yaml --out FILE.h5``) and :mod:`.three_systems` (the Sect. III B example).  Serial; never
imports mpi4py.
"""
