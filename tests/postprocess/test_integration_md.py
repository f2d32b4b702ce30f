"""Integration: our MD (N = 65, T = 0.8) → H5MD → quench → MBs → CTRW D vs the MSD D.

Runs ``pel_hpc run`` on a small deck (about 30 s on one core), then the post-processing chain
of Sect. II.  The error of each D comes from four blocks of the run.
"""
import numpy as np
import pytest

from postprocess import ctrw, dynamics
from postprocess import io as pio
from postprocess.figures.common import mb_configurations
from postprocess.metabasins import find_metabasins

DECK = """run: {{name: integration_T0.8, seed: 7}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{dt: 0.005, temperature: 0.8}}
stages:
  - {{name: equilibration, steps: 4000, output: false}}
  - {{name: production, steps: 32000}}
quench: {{every: 25, tolerance: 1.0e-8}}
output: {{file: {out}, thermo: 0, positions: 25, is_positions: 25}}
checkpoint: {{every: 0, file: null}}
"""


@pytest.fixture(scope="module")
def md_file(tmp_path_factory):
    cli = pytest.importorskip("pel_hpc.cli")
    d = tmp_path_factory.mktemp("md")
    (d / "deck.yaml").write_text(DECK.format(out=d / "run.h5"))
    assert cli.main(["run", str(d / "deck.yaml")]) == 0
    return d / "run.h5"


def _block_estimates(traj, x_md, step_is, x_is, n_blocks=4):
    """(D_ctrw, D_msd) of each block of the run [σ²/τ]."""
    edges = np.linspace(0, traj.time.size, n_blocks + 1).astype(int)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mbs = find_metabasins(traj.energy_total[lo:hi], traj.time[lo:hi])
        x_mb, own = mb_configurations(mbs, step_is, x_is, traj.step[lo:hi], traj.energy_total[lo:hi])
        _, a2 = ctrw.jump_length_squared(x_mb[mbs.start[own]], n_min=8)
        d_ctrw = ctrw.diffusion_constant(a2, traj.n_particles, mbs.waiting_time[mbs.complete].mean())
        res = dynamics.scattering(x_md[lo:hi], traj.time[1] - traj.time[0], [1.0], n_origins=100)
        span = traj.time[hi - 1] - traj.time[lo]
        out.append((d_ctrw, dynamics.diffusion_from_msd(res.time, res.msd, 0.05 * span, 0.3 * span)[0]))
    return np.array(out)


@pytest.mark.slow
def test_ctrw_diffusion_matches_msd_diffusion(md_file):
    traj = pio.read_inherent_structures(md_file)
    assert traj.temperature == 0.8 and traj.n_particles == 65
    _, step_md, x_md = pio.read_positions(md_file)
    _, step_is, x_is = pio.read_is_positions(md_file)
    assert np.array_equal(step_md, traj.step) and np.array_equal(step_is, traj.step)
    # re-quenches of one IS agree to round-off, far inside the IS identity tolerance (1e-9 total);
    # distinct IS are not closer than that (we saw 3e-7)
    gaps = np.diff(np.sort(traj.energy_total))
    assert np.sum(gaps < 1e-12) > 50 and not np.any((gaps > 1e-11) & (gaps < 1e-8))
    blocks = _block_estimates(traj, x_md, step_is, x_is)
    mean = blocks.mean(axis=0)
    err = blocks.std(axis=0, ddof=1) / np.sqrt(len(blocks))
    assert abs(mean[0] - mean[1]) < 3.0 * np.hypot(err[0], err[1]), (blocks, mean, err)
    assert abs(mean[0] / mean[1] - 1.0) < 0.35
