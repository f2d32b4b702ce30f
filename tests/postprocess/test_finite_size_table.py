"""postprocess.finite_size_table on synthetic Brownian trajectories with known D (replicas pooled)."""
import h5py
import numpy as np
import pytest

from pel_hpc.io import layout as L
from postprocess.finite_size_table import md_row
from synthetic_h5md import write_file


def _brownian(path, rng, d, n=200, frames=400, dt=0.1, box=8.0):
    x = np.cumsum(rng.normal(0.0, np.sqrt(2 * d * dt), (frames, n, 3)), axis=0)
    image = np.floor(x / box).astype(np.int32)
    return write_file(path, 0.6, np.arange(frames) * dt, np.zeros(frames), np.full(3, box), np.zeros(n, np.int32),
                      x_md=x - image * box, image=image)


def test_diffusion_constant_of_brownian_particles_and_replica_pooling(tmp_path):
    rng = np.random.default_rng(7)
    one = _brownian(tmp_path / "one.h5", rng, 0.01)
    other = _brownian(tmp_path / "other.h5", rng, 0.03)
    row = md_row(one)
    assert row["replicas"] == 1 and row["D"] == pytest.approx(0.01, rel=0.1)
    with h5py.File(one, "a") as f, h5py.File(other, "r") as g:
        g.copy(g[L.particles_path(0)], f, L.particles_path(1))
    pooled = md_row(one)
    assert pooled["replicas"] == 2 and pooled["D"] == pytest.approx(0.02, rel=0.1)
    assert pooled["N"] == 200 and pooled["T"] == 0.6
