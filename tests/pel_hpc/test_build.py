"""Start states built from a deck: iso-configurational replicas share replica 0's positions."""
import numpy as np
import pytest

from pel_hpc.build import initial_state
from pel_hpc.deck.validate import validate_deck
from pel_hpc.parallel.ensemble import replica_states
from pel_hpc.physics.kob_andersen import pair_table

TABLE = pair_table(1.8)
REPLICAS = (0, 1, 2, 5)


def _deck(tmp_path, mode):
    data = {"run": {"seed": 11}, "system": {"n": 65, "cutoff": 1.8},
            "integrator": {"temperature": 0.7}, "stages": [{"name": "production", "steps": 10}],
            "ensemble": {"replicas": 6, "mode": mode}}
    return validate_deck(data, tmp_path)


@pytest.fixture(scope="module")
def starts(tmp_path_factory):
    """{mode: [initial_state of each replica in REPLICAS]} for a random N = 65 start."""
    path = tmp_path_factory.mktemp("decks")
    return {mode: [initial_state(_deck(path, mode), None, TABLE, k) for k in REPLICAS]
            for mode in ("independent", "iso_configurational")}


def test_iso_configurational_replicas_share_positions_not_velocities(starts):
    iso = starts["iso_configurational"]
    for s in iso[1:]:
        assert np.array_equal(s.x, iso[0].x) and np.array_equal(s.typ, iso[0].typ)
        assert np.max(np.abs(s.v - iso[0].v)) > 0.1  # fresh Maxwell-Boltzmann draws at T = 0.7
    assert [s.replica for s in iso] == list(REPLICAS)


def test_iso_velocities_are_each_replicas_own(starts):
    """Velocities depend on (seed, replica, tag) only, so the fix leaves them as in independent mode;
    positions differ there, which is what the iso-configurational start must not do."""
    for iso, ind in zip(starts["iso_configurational"], starts["independent"]):
        assert np.array_equal(iso.v, ind.v)
    ind = starts["independent"]
    assert all(not np.allclose(s.x, ind[0].x) for s in ind[1:])
    assert np.array_equal(starts["iso_configurational"][0].x, ind[0].x)


def test_deck_start_equals_the_batched_ensemble_start(starts, tmp_path):
    """The per-replica build path and the batched path (replica_states) start identically."""
    batched = replica_states(_deck(tmp_path, "iso_configurational"), REPLICAS, TABLE)
    for a, b in zip(starts["iso_configurational"], batched):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.v, b.v)


def test_deck_decomposition_settings_reach_the_domain(tmp_path):
    """decomposition.balance and .reproducible arrive in the decomposed domain; a wrong type is refused."""
    from pel_hpc.build import make_domain
    from pel_hpc.errors import DeckError
    from pel_hpc.parallel.comm import SerialComm

    data = {"system": {"n": 65, "cutoff": 1.8}, "integrator": {"temperature": 0.7},
            "stages": [{"name": "production", "steps": 10}],
            "decomposition": {"reproducible": True, "balance": True}}
    dom = make_domain(validate_deck(data, tmp_path), SerialComm(), TABLE)
    assert dom.reproducible and dom.balance and dom.copy().balance
    data["decomposition"]["balance"] = "yes"
    with pytest.raises(DeckError, match="decomposition.balance"):
        validate_deck(data, tmp_path)
