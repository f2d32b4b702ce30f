"""State: the rank-local particle arrays of one simulation (LJ units).

Per-particle arrays have a capacity ≥ n_local + n_ghost and hold ``[local | ghost]``
particles, the ``n_local`` owned ones first.  Ghosts are copies of particles (this rank's or
other ranks') at periodically shifted coordinates, made by the halo; serial tiny boxes
(minimum-image kernels) have none.  Local particles are wrapped into the
box at every neighbour-list rebuild; between rebuilds they may lie up to skin/2 outside
(``image`` counts the box crossings, unwrapped x = x + image·L).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

PER_PARTICLE = ("x", "v", "f", "typ", "tag", "image")


@dataclass
class State:
    """Rank-local arrays plus the scalars that make a run restartable.

    Attributes
    ----------
    x, v, f : (capacity, 3) float64 — positions [sigma], velocities [sigma/tau], forces [epsilon/sigma]
    typ : (capacity,) int32 — species, 0 = A, 1 = B
    tag : (capacity,) int64 — global particle id 0…N−1
    image : (capacity, 3) int32 — periodic image counters
    box : (3,) float64 — edge lengths [sigma], origin at 0
    n_local, n_ghost, n_global : particle counts (owned here, ghosts here, all ranks)
    step : MD step counter
    nhc_eta, nhc_veta : (chain,) Nosé–Hoover chain positions and velocities (empty for NVE)
    nhc_ke2 : 2K [epsilon] after the last step's final NHC scaling, the next step's thermostat
        input (:meth:`pel_hpc.simulation.Integrator.first_half`); NaN when unknown (summed
        afresh).  Part of the state so that a trajectory does not depend on where a run is
        chunked, stopped and restarted; whoever assigns velocities resets it (:meth:`forget_ke2`).
    seed, replica : the run's seed and replica index (counter-based random numbers)
    """

    x: np.ndarray
    v: np.ndarray
    f: np.ndarray
    typ: np.ndarray
    tag: np.ndarray
    image: np.ndarray
    box: np.ndarray
    n_local: int
    n_global: int
    n_ghost: int = 0
    step: int = 0
    nhc_eta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nhc_veta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nhc_ke2: float = float("nan")
    seed: int = 12345
    replica: int = 0

    @classmethod
    def from_arrays(cls, x, typ, box, v=None, tag=None, image=None, **kw) -> "State":
        """A serial state of ``len(x)`` owned particles (copies the inputs into C-ordered arrays: the
        halo sends and receives rows of ``x`` in place, which MPI needs contiguous)."""
        n = len(x)
        box = np.asarray(box, dtype=np.float64).reshape(3).copy()
        return cls(
            x=np.array(x, dtype=np.float64, order="C").reshape(n, 3),
            v=np.zeros((n, 3)) if v is None else np.array(v, dtype=np.float64, order="C").reshape(n, 3),
            f=np.zeros((n, 3)),
            typ=np.array(typ, dtype=np.int32),
            tag=np.arange(n, dtype=np.int64) if tag is None else np.array(tag, dtype=np.int64),
            image=np.zeros((n, 3), np.int32) if image is None else np.array(image, dtype=np.int32, order="C"),
            box=box, n_local=n, n_global=n, **kw)

    @property
    def n_total(self) -> int:
        """Owned plus ghost particles."""
        return self.n_local + self.n_ghost

    @property
    def volume(self) -> float:
        """Box volume [sigma³]."""
        return float(np.prod(self.box))

    def copy(self) -> "State":
        """Deep copy (arrays copied), e.g. for a quench that must not touch the trajectory."""
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return State(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()})

    def forget_ke2(self) -> None:
        """Velocities were assigned outside an integrator: the carried 2K no longer holds."""
        self.nhc_ke2 = float("nan")

    def permute_local(self, order: np.ndarray) -> None:
        """Reorder the owned particles as ``order`` (e.g. by cell); ghosts are dropped."""
        n = self.n_local
        for name in PER_PARTICLE:
            arr = getattr(self, name)
            arr[:n] = arr[:n][order]
        self.n_ghost = 0

    def resize(self, capacity: int) -> None:
        """Grow (never shrink) the per-particle arrays to ``capacity``, keeping the contents."""
        for name in PER_PARTICLE:
            arr = getattr(self, name)
            if len(arr) < capacity:
                new = np.zeros((capacity,) + arr.shape[1:], dtype=arr.dtype)
                new[: len(arr)] = arr
                setattr(self, name, new)
