"""End-to-end tests of the Fig. 1–3 and Table I commands on synthetic files with known answers."""
import numpy as np
import pytest

from postprocess import landscape as L
from postprocess.figures import fig01, fig02, fig03, table1
from postprocess.figures.common import analyse_file
from synthetic_h5md import write_file, write_hopping_file

TRUE = L.TABLE_I.replace(sigma_gamma=0.8, e0=-360.0, e_c=-371.9, e_cut=-385.0)  # absolute energies, as in MD


@pytest.fixture(scope="module")
def hop_file(tmp_path_factory):
    return write_hopping_file(tmp_path_factory.mktemp("hop") / "hop.h5", np.random.default_rng(41))


def test_pipeline_ctrw_consistency(hop_file):
    """MBs merge the alternating IS pairs; a² and ⟨τ⟩ give D_ctrw = D of the MB trajectory."""
    a = analyse_file(hop_file, k=np.array([1.0, 15.0, 400.0]), n_origins=2000)
    done = a.waiting_times
    assert done.mean() == pytest.approx(2.0, rel=0.15)  # exponential waiting times of mean 2
    assert a.a2 == pytest.approx(2 * 3 * 0.25 + 20 * 3 * 0.03**2, rel=0.15)
    assert a.d_mb == pytest.approx(a.d_ctrw, rel=0.2)
    assert a.d_msd == pytest.approx(a.d_ctrw, rel=0.2)
    # every transition moves all particles by >> 1/400: S_MB(k=400, t) is the persistence S0(t)
    np.testing.assert_allclose(a.fs_mb[:, 2], a.s0, atol=0.03)


def test_figure_commands_write_png_and_csv(hop_file, tmp_path):
    for mod in (fig01, fig02, fig03):
        assert mod.main([str(hop_file), "--out", str(tmp_path)]) == 0
    for name in ("fig01", "fig02", "fig03"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
        assert "hop.h5" in (tmp_path / f"{name}.csv").read_text().splitlines()[0]


def _trap_file(path, rng, beta, n_mb):
    """One IS frame per MB (irregular clock): waiting times exactly the trap model's."""
    gmax = TRUE.gamma0
    e = L.sample_p_eq(rng, 8 * n_mb, beta, TRUE)
    e = e[rng.random(e.size) < L.escape_rate(e, beta, TRUE) / gmax][:n_mb]
    tau = rng.exponential(1.0 / L.sample_rates(rng, e, beta, TRUE))
    time = np.concatenate([[0.0], np.cumsum(tau)[:-1]])
    return write_file(path, 1.0 / beta, time, e / 65.0, np.full(3, 3.8), np.zeros(65, np.int32))


def test_table1_command_recovers_trap_model(tmp_path):
    rng = np.random.default_rng(42)
    files = [str(_trap_file(tmp_path / f"trap{i}.h5", rng, b, 60_000)) for i, b in enumerate((1 / 0.6, 2.0, 1 / 0.45))]
    assert table1.main(files + ["--out", str(tmp_path), "--bin-width", "0.5", "--min-count", "100"]) == 0
    rows = {r.split(",")[0]: float(r.split(",")[1]) for r in (tmp_path / "table1.csv").read_text().splitlines()[3:]}
    assert rows["lam"] == pytest.approx(TRUE.lam, abs=0.05)
    assert rows["kappa"] == pytest.approx(TRUE.kappa, abs=0.12)
    assert rows["e_c"] == pytest.approx(TRUE.e_c, abs=0.5)
    assert rows["sigma"] == pytest.approx(TRUE.sigma, abs=0.1)
    assert rows["sigma_gamma"] == pytest.approx(TRUE.sigma_gamma, abs=0.1)
    assert (tmp_path / "table1.png").exists()


def test_replicas_of_one_file_are_pooled(hop_file, tmp_path):
    """Two replicas in one file: waiting times concatenated, a² jump-weighted, F_s averaged."""
    import h5py

    from pel_hpc.io import layout as LO

    other = write_hopping_file(tmp_path / "other.h5", np.random.default_rng(43))
    both = tmp_path / "both.h5"
    both.write_bytes(hop_file.read_bytes())
    with h5py.File(both, "a") as f, h5py.File(other, "r") as g:
        g.copy(g[LO.particles_path(0)], f, LO.particles_path(1))
        g.copy(g[f"{LO.OBSERVABLES}/{LO.replica_group(0)}"], f, f"{LO.OBSERVABLES}/{LO.replica_group(1)}")
    k = np.array([1.0, 15.0])
    one, two, pooled = (analyse_file(p, k=k, n_origins=200) for p in (hop_file, other, both))
    assert pooled.n_replicas == 2 and one.n_replicas == 1
    np.testing.assert_array_equal(pooled.waiting_times, np.concatenate([one.waiting_times, two.waiting_times]))
    assert min(one.a2, two.a2) <= pooled.a2 <= max(one.a2, two.a2)
    np.testing.assert_allclose(pooled.fs_cont, 0.5 * (one.fs_cont + two.fs_cont), atol=1e-12)
