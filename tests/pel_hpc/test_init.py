"""Initial configurations and velocities: replication, random placement, Maxwell–Boltzmann."""
import numpy as np
import pytest

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.md.init import PUSH_MAX_FORCE, pushed_random_state, random_state, replicate, soft_push
from pel_hpc.md.observables import kinetic_energy, momentum, temperature
from pel_hpc.md.velocities import gaussian_velocities, maxwell_boltzmann
from pel_hpc.physics.kob_andersen import pair_table
from pel_hpc.state import State


def _energy(state, cutoff):
    table = pair_table(cutoff)
    dom = SerialDomain(table.rc_max, 0.3)
    s = state.copy()
    dom.setup(s)
    return compute_forces(s, dom, table)[0] / s.n_global


@pytest.mark.parametrize("reps", [(2, 2, 2), (1, 2, 3)])
def test_replication_keeps_energy_per_particle(liquid65, reps):
    big = replicate(liquid65, reps)
    assert big.n_global == 65 * np.prod(reps)
    assert np.allclose(big.box, liquid65.box * reps)
    assert np.array_equal(np.bincount(big.typ), np.bincount(liquid65.typ) * np.prod(reps))
    assert _energy(big, 1.8) == pytest.approx(_energy(liquid65, 1.8), rel=1e-12)


def test_random_state_density_composition_and_push():
    s = random_state(500, density=1.2, fraction_a=0.8, seed=3)
    assert s.n_global / s.volume == pytest.approx(1.2)
    assert np.count_nonzero(s.typ == 0) == 400
    assert np.all((s.x >= 0) & (s.x < s.box))
    table = pair_table(2.5)
    assert _energy(s, 2.5) > 1e3  # uniform placement overlaps
    soft_push(s, SerialDomain(table.rc_max, 0.3), table)
    assert -7.6 < _energy(s, 2.5) < -7.0  # overlaps removed: near the inherent structures (≈ −7.5 to −7.7)
    assert np.sqrt(np.max(np.sum(s.f[:s.n_local] ** 2, axis=1))) <= PUSH_MAX_FORCE  # the push's stopping rule
    again = random_state(500, density=1.2, fraction_a=0.8, seed=3)
    assert not np.array_equal(again.x, random_state(500, seed=4).x)


def test_pushed_start_is_the_serial_push_on_the_halo_path_with_every_particle_by_tag():
    """:func:`pushed_random_state` (the deck's random start) pushes in reproducible mode: on one rank
    it is the decomposed 1×1×1 domain's push (N = 500: a box above 2.5 list radii); every particle
    comes back, ordered by tag, with its species, and no force above the push's limit."""
    from pel_hpc.parallel.comm import SerialComm
    from pel_hpc.parallel.domain import DecomposedDomain

    table = pair_table(2.5)
    s = pushed_random_state(500, 1.2, 0.8, 9, 2, table, 0.3)
    ref = random_state(500, 1.2, 0.8, 9, 2)
    dom = DecomposedDomain(table.rc_max, 0.3, SerialComm(), reproducible=True)
    soft_push(ref, dom, table)
    assert np.array_equal(s.x, dom.gather_by_tag(ref, ref.x)) and np.array_equal(s.tag, np.arange(500))
    assert np.array_equal(s.typ, random_state(500, 1.2, 0.8, 9, 2).typ)
    assert (s.seed, s.replica, s.n_local, s.n_global) == (9, 2, 500, 500)
    dom = SerialDomain(table.rc_max, 0.3)
    dom.setup(s)
    compute_forces(s, dom, table)
    assert np.sqrt(np.max(np.sum(s.f[:500] ** 2, axis=1))) <= PUSH_MAX_FORCE


def test_maxwell_boltzmann_exact_temperature_zero_momentum(liquid500):
    s = liquid500.copy()
    dom = SerialDomain(2.5, 0.3)
    maxwell_boltzmann(s, dom, 0.65)
    assert np.allclose(momentum(s, dom), 0.0, atol=1e-12)
    assert temperature(kinetic_energy(s, dom), s.n_global) == pytest.approx(0.65, rel=1e-12)


def test_velocities_depend_only_on_seed_replica_and_tag():
    """Counter-based: the velocity of a tag is the same whatever subset a rank holds."""
    tags = np.arange(4000, dtype=np.int64)
    full, part = np.empty((4000, 3)), np.empty((7, 3))
    gaussian_velocities(11, 2, tags, full)
    subset = np.array([3999, 5, 17, 2048, 0, 1, 977])
    gaussian_velocities(11, 2, subset, part)
    assert np.array_equal(part, full[subset])
    other = np.empty((4000, 3))
    gaussian_velocities(11, 3, tags, other)
    assert abs(np.corrcoef(full.ravel(), other.ravel())[0, 1]) < 0.05
    # standard normal: mean 0, variance 1, kurtosis 3 within sampling error (12000 samples)
    v = full.ravel()
    assert abs(v.mean()) < 0.05 and v.var() == pytest.approx(1.0, abs=0.05)
    assert np.mean(v**4) / v.var() ** 2 == pytest.approx(3.0, abs=0.25)


def test_state_permutation_keeps_particles_together(liquid65):
    s = liquid65.copy()
    order = np.random.default_rng(1).permutation(65)
    before = {int(t): (tuple(x), int(k)) for t, x, k in zip(s.tag, s.x, s.typ)}
    s.permute_local(order)
    assert before == {int(t): (tuple(x), int(k)) for t, x, k in zip(s.tag, s.x, s.typ)}
    assert isinstance(State.from_arrays(s.x, s.typ, s.box), State)
