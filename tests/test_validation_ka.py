"""The KA validation benchmark's own arithmetic: literature table, cut-off corrections, fits, report.

``benchmarks/validation_ka.py`` compares our MD with published numbers; these checks make sure
the numbers it compares are read, corrected and compared correctly, against independent references
(analytic pair terms, the engine's own energy with and without the shift, a random walk, equipartition).
"""
import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.md.velocities import maxwell_boltzmann
from pel_hpc.physics.kob_andersen import EPSILON, SIGMA, pair_table, types_for
from pel_hpc.simulation import Integrator, Simulation
from pel_hpc.state import State

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


val = _load("validation_ka")  # puts benchmarks/ on sys.path, so the report module imports as in a run
rep = _load("validation_ka_report")


def test_literature_table_parses_to_the_published_values():
    rows = {(r["quantity"], r["T"]): r for r in rep.literature()}
    assert set(rows) == {("U", 1.028), ("w", 1.028), ("gamma", 1.028), ("U", 0.8), ("w", 0.8), ("cv_ex", 0.8)}
    assert rows["U", 1.028]["value"] == -5.974 and rows["U", 1.028]["err"] == 0.0005
    assert rows["w", 1.028]["value"] == 7.444 and rows["gamma", 1.028]["value"] == 5.11
    # p = ρ(T + w) (the data set's own liquid.py) puts the row near its isobar p = 10.19 (10.166)
    assert 1.2 * (1.028 + rows["w", 1.028]["value"]) == pytest.approx(10.19, abs=0.03)
    assert all("Phys. Rev. Lett. 120, 165501 (2018)" in rows[q, 1.028]["source"] for q in ("U", "w", "gamma"))
    # RUMD 3 values as gamdpy's kablj.py writes them: mu3, mw3 and cvex3 = 1.089086505e-4 * 10000 / 0.8**2
    assert rows["U", 0.8]["value"] == -6.346 and rows["w", 0.8]["value"] == 5.534
    assert rows["cv_ex", 0.8]["value"] == pytest.approx(1.089086505e-4 * 10000 / 0.8**2, abs=5e-4)
    assert all("jklust/gamdpy" in rows[q, 0.8]["source"] for q in ("U", "w", "cv_ex"))


def test_cutoff_corrections_of_one_ab_pair_are_the_analytic_cutoff_terms():
    table = pair_table(2.5)
    x = np.array([[1.0, 1.0, 1.0], [2.5, 1.0, 1.0]])  # r = 1.5 < r_c,AB = 2.0
    u_c = 4 * 1.5 * (0.4**12 - 0.4**6)  # u_AB(2.5 σ_AB), ε_AB = 1.5, σ_AB/r_c = 0.4
    f_c = 24 * 1.5 / 2.0 * (2 * 0.4**12 - 0.4**6)  # radial force at r_c (attractive: < 0)
    du, dw = val.cutoff_corrections(x, np.array([0, 1]), np.full(3, 10.0), table)
    assert du == pytest.approx(u_c / 2, rel=1e-12)
    assert dw == pytest.approx(-1.5 * f_c / 6, rel=1e-12) and dw > 0
    x[1, 0] = 3.5  # r = 2.5 > r_c,AB: no pair
    assert val.cutoff_corrections(x, np.array([0, 1]), np.full(3, 10.0), table) == (0.0, 0.0)


def _engine_energy_and_virial(x, typ, box, table):
    state = State.from_arrays(x.copy(), typ, box)
    domain = SerialDomain(table.rc_max, 0.3)
    domain.setup(state)
    return compute_forces(state, domain, table)


def test_cutoff_corrections_equal_the_engine_differences_between_truncations():
    rng = np.random.default_rng(3)
    n_side = 7
    box = np.full(3, (n_side**3 / 1.2) ** (1 / 3))
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    x = (grid + 0.5 + rng.uniform(-0.15, 0.15, grid.shape)) * box / n_side
    typ = rng.permutation(types_for(len(x)))
    shifted = pair_table(2.5)
    e_s, w_s = _engine_energy_and_virial(x, typ, box, shifted)
    e_u, _ = _engine_energy_and_virial(x, typ, box, dataclasses.replace(shifted, ushift=np.zeros(4)))
    _, w_f = _engine_energy_and_virial(x, typ, box, pair_table(2.5, "force_shift"))
    du, dw = val.cutoff_corrections(x, typ, box, shifted)
    assert (e_u - e_s) / len(x) < -0.4  # ~ 40 neighbours within r_c at ρ = 1.2, u(r_c) ≈ −0.016…−0.024
    assert du == pytest.approx((e_u - e_s) / len(x), rel=1e-10)
    assert dw == pytest.approx((w_f - w_s) / (3 * len(x)), rel=1e-10)


def test_diffusion_fit_recovers_a_random_walk():
    rng = np.random.default_rng(11)
    d_true, dt = 0.02, 0.5
    steps = rng.normal(0.0, np.sqrt(2 * d_true * dt), size=(2000, 400, 3))
    out = val.diffusion(np.cumsum(steps, axis=0), dt)
    assert out["D_A"] == pytest.approx(d_true, rel=0.1)  # one realisation: a few % statistical error
    assert 0.0 < out["D_A_err"] < 0.1 * d_true
    assert abs(out["D_A"] - d_true) < 4 * out["D_A_err"]
    assert out["msd_end"] == pytest.approx(6 * d_true * dt * 1000, rel=0.1)


def test_n_sigma_combines_errors_in_quadrature():
    assert rep.n_sigma(1.0, 0.3, 1.5, 0.4) == pytest.approx(1.0)


def test_excess_heat_capacity_of_harmonic_wells_is_equipartition():
    # 3 harmonic degrees of freedom per particle: U = Σ k x²/2 with canonical Gaussian x, c_V,ex = 3/2 exactly
    rng = np.random.default_rng(5)
    temperature, k = 0.8, 7.0
    x = rng.normal(0.0, np.sqrt(temperature / k), size=(4000, 3 * val.N))
    u = 0.5 * k * np.sum(x * x, axis=1) / val.N
    assert np.mean(u) == pytest.approx(1.5 * temperature, rel=1e-3)
    assert val.excess_heat_capacity(u, temperature) == pytest.approx(1.5, rel=0.08)


def _row(temperature, **values):
    row = {"T": temperature, "T_kin": temperature, "dU_c": -0.569, "dw_sf": 0.86, "de_c": -0.572, "n_is": 20,
           "msd_end": 2.0, "seconds": 1.0, "e_is": -7.56, "e_is_err": 0.002, "D_A": 1e-2, "D_A_err": 1e-3}
    for key, (value, err) in values.items():
        row[key], row[key + "_err"] = value, err
    return row


def test_report_compares_each_value_with_its_source_in_sigma():
    rows = [_row(1.028, U=(-5.974 + 0.006, 0.003), w=(7.444, 0.02), gamma=(5.11, 0.1), cv_ex=(1.5, 0.1)),
            _row(0.8, U=(-6.346, 0.004), w=(5.534 - 0.04, 0.02), gamma=(5.0, 0.1), cv_ex=(1.702, 0.1))]
    text = rep.report(rows, "# head", 0.435)
    line = {(m[0], m[1]): m[2] for m in re.findall(r"^\| ([0-9.]+) \| (U/N|w =)[^|]*\|[^|]*\|[^|]*\| ([0-9.]+) σ",
                                                    text, flags=re.M)}
    assert float(line["1.028", "U/N"]) == pytest.approx(0.006 / np.hypot(0.003, 0.0005), abs=0.05)
    assert float(line["0.8", "w ="]) == pytest.approx(0.04 / np.hypot(0.02, 0.0005), abs=0.05)
    assert "jklust/gamdpy" in text and "165501" in text and "Searched without a usable number" in text


def test_lammps_check_simulates_the_engine_model():
    # the cross-check input must hold the KA ε, σ and r_c = 2.5 σ_αβ of pel_hpc's pair table (shifted)
    coeffs = re.findall(r"^pair_coeff (\d) (\d) (\S+) (\S+) (\S+)$", val.LAMMPS_INPUT, flags=re.M)
    assert len(coeffs) == 3 and "pair_modify shift yes" in val.LAMMPS_INPUT
    for a, b, eps, sig, rc in coeffs:
        i, j = int(a) - 1, int(b) - 1
        assert (float(eps), float(sig)) == (EPSILON[i, j], SIGMA[i, j])
        assert float(rc) == pytest.approx(2.5 * SIGMA[i, j])
    assert "timestep 0.005" in val.LAMMPS_INPUT and "nvt temp 1.028 1.028 0.5" in val.LAMMPS_INPUT


def _simulation(state, table, chain):
    return Simulation(state, SerialDomain(table.rc_max, 0.3), table, Integrator(0.005, 1.028, 0.5, chain)).setup()


def _unwrapped(sim):
    st = sim.state
    return sim.domain.gather_by_tag(st, st.x[: st.n_local] + st.image[: st.n_local] * st.box)


@pytest.fixture(scope="module")
def liquid1000():
    """N = 1000 at ρ = 1.2: a simple-cubic start (random species) melted by 1000 NVT steps at T = 1.028."""
    table = pair_table(2.5)
    box = np.full(3, (1000 / 1.2) ** (1 / 3))
    grid = np.stack(np.meshgrid(*[np.arange(10)] * 3, indexing="ij"), -1).reshape(-1, 3)
    state = State.from_arrays((grid + 0.5) * box / 10, np.random.default_rng(31).permutation(types_for(1000)), box)
    maxwell_boltzmann(state, SerialDomain(table.rc_max, 0.3), 1.028)
    warm = _simulation(state, table, 3)
    warm.run(1000)
    start = warm.state.copy()
    start.nhc_eta, start.nhc_veta = np.zeros(0), np.zeros(0)
    return start


@pytest.mark.parametrize("chain,fix", [(0, "fix 1 all nve"), (3, "fix 1 all nvt temp 1.028 1.028 0.5 tchain 3")])
def test_trajectory_equals_lammps_step_by_step(tmp_path, liquid1000, chain, fix):
    """The premise of comparing our averages with other codes' (validation T = 1.028 note): from one N = 1000
    liquid state at ρ = 1.2, 300 velocity-Verlet steps (NVE, or Nosé–Hoover chain as LAMMPS fix nvt) with
    neighbour-list rebuilds move every particle as LAMMPS does, to round-off amplified by the chaos."""
    sys.path.insert(0, str(BENCH / "lammps"))
    import ka_lammps

    if ka_lammps.lmp_binary() is None:
        pytest.skip("LAMMPS 'lmp' is not installed")
    table = pair_table(2.5)
    sim = _simulation(liquid1000.copy(), table, chain)
    x0, v0, typ, box = _unwrapped(sim), sim.domain.gather_by_tag(sim.state, sim.state.v), \
        sim.domain.gather_by_tag(sim.state, sim.state.typ), sim.state.box.copy()
    sim.run(300)
    ka_lammps.write_data(tmp_path / "ka.data", x0 % box, typ, box, v0)
    script = (ka_lammps.header("ka.data", 2.5) + f"timestep 0.005\n{fix}\nthermo_style custom step pe\n"
              "thermo_modify norm no format float %.16g\ndump d all custom 300 x.dump id xu yu zu\n"
              "dump_modify d format float %.17g sort id\nrun 300\n")
    pe = ka_lammps.thermo_rows(ka_lammps.run(tmp_path, script))[-1][1]
    lines = (tmp_path / "x.dump").read_text().splitlines()
    first = max(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS")) + 1
    x_lmp = np.array([[float(v) for v in line.split()[1:4]] for line in lines[first:]])
    moved = _unwrapped(sim) - x0
    assert np.sqrt(np.mean(moved**2)) > 0.1  # the particles moved (several list rebuilds)
    assert np.max(np.abs(moved - (x_lmp - x0 % box))) < 1e-9
    assert sim.epot == pytest.approx(pe, rel=1e-10)
