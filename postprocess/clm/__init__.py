"""The coupled landscape model (CLM) of Sects. III C–IV of the paper: a lattice of elementary systems.

Modules: :mod:`.lattice` (ES lattice and coupling range), :mod:`.processes` (active rule that
preserves p_eq, passive Boltzmann/Gaussian/energy-dependent coupling, eq. (5)), :mod:`.kinetics`
(exact event-driven numba engine), :mod:`.rng` (per-simulation generator), :mod:`.simulation`
(one run), :mod:`.observables` (⟨τⁿ⟩, D, S0, τα, KWW, Stokes–Einstein), :mod:`.summary` (scan
tables), :mod:`.scan` (``python -m postprocess.clm.scan SCAN.yaml --out FILE.h5``) and
:mod:`.three_systems` (the Sect. III B example).  Serial; never imports mpi4py.
"""
