"""The preparation's crystal guard (pel_hpc.preparation): the start is the lowest IS whose A particles are
not solid-like (ten Wolde, Ruiz-Montero & Frenkel 1996), never a lower-lying crystal.

The preparation files are written by the project's own H5MD writer with the preparation deck (the
preparation run itself is replaced by that writer): inherent structures of N = 108 KA particles
(86 A, 22 B, ρ = 1.2, r_c = 1.8).  Liquid IS are quenches of random configurations; the crystal is an
fcc lattice of 3×3×3 conventional cells (the 4-site cell copied by ``md.init.replicate``) with the B
particles on random sites (a substitutional KA crystal), its A particles checked solid-like independently
(perfect-lattice q6 of Steinhardt et al. 1983).  The IS energies are assigned, the crystals lowest, as a
crystallised run would store them; the guard reads them as stored.
"""
import io
import os

import h5py
import numpy as np
import pytest

from pel_hpc import preparation
from pel_hpc.analysis.bond_order import SOLID_FRACTION_FLAG, bond_order
from pel_hpc.deck.preparation import preparation_deck
from pel_hpc.deck.validate import validate_deck
from pel_hpc.errors import CrystallineStartError, PelError
from pel_hpc.io import layout as L
from pel_hpc.io import session
from pel_hpc.io.writer import H5MDWriter
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.init import box_edge, random_state, replicate, soft_push
from pel_hpc.md.minimize import quench
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.physics.kob_andersen import pair_table
from pel_hpc.preparation import DONE, lowest_inherent_structure, preparation_status, read_record, write_record
from pel_hpc.state import State

N, CELLS, CUTOFF, EVERY = 108, 3, 1.8, 100
FCC_Q6 = 0.574524  # |q6| of a perfect fcc lattice (Steinhardt, Nelson & Ronchetti 1983)


def _by_tag(state, array):
    return array[np.argsort(state.tag[:state.n_global])]


@pytest.fixture(scope="module")
def structures():
    """(species, box, two liquid IS, a perfect and a thermally shaken crystal), positions (N, 3) [σ]."""
    table = pair_table(CUTOFF)
    liquids = []
    for seed in (5, 6):
        state = random_state(N, 1.2, 0.8, seed)
        soft_push(state, SerialDomain(table.rc_max, 0.3), table)
        liquids.append(quench(state, SerialDomain(table.rc_max, 0.3), table, tol=1e-6).x_is)
    species = _by_tag(state, state.typ[:N])
    a = box_edge(N, 1.2) / CELLS
    cell = State.from_arrays(np.array([[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]]) * a, np.zeros(4), [a] * 3)
    lattice = replicate(cell, (CELLS,) * 3)
    rng = np.random.default_rng(7)
    crystal = _by_tag(lattice, lattice.x[:N])[rng.permutation(N)]  # B particles on random sites
    shaken = crystal + rng.normal(0, 0.04, crystal.shape)
    return species, lattice.box, liquids, crystal, shaken


def test_fixtures_are_what_they_claim(structures):
    """Independent check of the order parameter: the fcc A sublattice is all solid-like, the liquid IS not."""
    species, box, liquids, crystal, shaken = structures
    a_only = species == 0
    assert a_only.sum() == 86
    perfect = bond_order(crystal, box)  # all 108 sites: the exact fcc value
    assert perfect.q6_local == pytest.approx(FCC_Q6, abs=1e-6) and perfect.solid_fraction == 1.0
    assert bond_order(crystal[a_only], box).solid_fraction > 0.9
    assert bond_order(shaken[a_only], box).solid_fraction > 0.9
    for x in liquids:
        assert bond_order(x[a_only], box).solid_fraction < 0.1  # liquid IS: a few per cent at most


def _deck(folder):
    data = {"run": {"name": "ice", "seed": 3},
            "system": {"cutoff": CUTOFF, "init": {"kind": "lowest_inherent_structure", "replicate": [1, 1, 1]}},
            "integrator": {"temperature": 0.5}, "stages": [{"name": "production", "steps": 100}],
            "quench": {"every": 0}, "output": {"thermo": 100, "positions": 100},
            "ensemble": {"replicas": 2, "mode": "iso_configurational"},
            "preparation": {"n": N, "equilibration": 0, "steps": 3 * EVERY, "quench_every": EVERY, "replicas": 2}}
    return validate_deck(data, folder)


def _fake_run(structures, frames):
    """A stand-in for the preparation run: ``frames[replica] = [(name, e_IS), ...]`` at steps 100, 200, ..."""
    species, box, liquids, crystal, shaken = structures
    pick = {"liquid0": liquids[0], "liquid1": liquids[1], "crystal": crystal, "shaken": shaken}

    def run(pcfg, world, resume, stream):
        writer = H5MDWriter(pcfg, world)
        tags = np.arange(N)
        writer.create(box, {r: (tags, species) for r in range(len(frames))})
        for k in range(len(frames[0])):
            step = (k + 1) * EVERY
            positions = {r: (tags, pick[f[k][0]]) for r, f in enumerate(frames)}
            writer.append_particles(L.INHERENT_STRUCTURE, step, positions)
            writer.append_observables(step, {r: {L.IS_ENERGY: f[k][1]} for r, f in enumerate(frames)},
                                      names=[L.IS_ENERGY])
        writer.close()
    return run


MIXED = [[("liquid0", -6.80), ("crystal", -7.20), ("liquid1", -6.95)],
         [("liquid1", -6.90), ("liquid0", -6.85), ("shaken", -7.10)]]


def test_lower_crystals_are_skipped_and_recorded(tmp_path, structures, monkeypatch):
    """Two crystals lie below every liquid IS: the start is the lowest liquid one (replica 0, frame 2),
    2 rejections are recorded and printed; the reused preparation gives the same choice."""
    cfg = _deck(tmp_path)
    pcfg = preparation_deck(cfg)
    monkeypatch.setattr(preparation, "_run", _fake_run(structures, MIXED))
    out = io.StringIO()
    best = preparation.ensure_preparation(cfg, SerialComm(), out)
    assert (best.replica, best.frame, best.e_is, best.candidates) == (0, 2, -6.95, 6)
    assert best.crystalline_skipped == 2 and best.solid_fraction < 0.1
    assert best.skipped_solid_fraction > 0.9 > SOLID_FRACTION_FLAG
    assert "skipped 2 crystalline IS below e_IS=-6.9500" in out.getvalue()
    assert read_record(pcfg.output.file) == best == lowest_inherent_structure(pcfg.output.file)
    assert preparation_status(pcfg, 1) == DONE
    again = io.StringIO()
    assert preparation.ensure_preparation(cfg, SerialComm(), again) == best
    assert "skipped 2 crystalline" in again.getvalue()
    # a production run starts from it: its replica-0 e_pot at step 0 is the liquid IS, not the crystal
    group = session.run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))
    assert group.step == 100
    _, box, liquids, _, _ = structures
    with h5py.File(cfg.output.file, "r") as f:
        x0 = f[f"{L.element_path(0, L.POSITION)}/{L.VALUE}"][0]
    d = x0 - liquids[1]
    d -= box * np.round(d / box)
    assert np.abs(d).max() < 1e-9  # liquid1: the lowest liquid IS


def test_all_crystalline_stops_before_any_output(tmp_path, structures, monkeypatch):
    """Every candidate crystalline: a one-line CrystallineStartError (exit 8) naming the file, on the whole
    run; no record and no production file is written."""
    cfg = _deck(tmp_path)
    pcfg = preparation_deck(cfg)
    frames = [[("crystal", -7.2), ("shaken", -7.1), ("crystal", -7.2)]] * 2
    monkeypatch.setattr(preparation, "_run", _fake_run(structures, frames))
    with pytest.raises(CrystallineStartError) as err:
        session.run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))
    message = str(err.value)
    assert pcfg.output.file in message and "all 6 inherent structures are crystalline" in message
    assert "\n" not in message and "temperature" in message
    assert issubclass(CrystallineStartError, PelError) and CrystallineStartError.exit_code == 8
    assert not os.path.exists(cfg.output.file)
    with h5py.File(pcfg.output.file, "r") as f:
        assert L.LOWEST_IS not in f
    with pytest.raises(CrystallineStartError, match="the 2 lowest of 6"):
        lowest_inherent_structure(pcfg.output.file, max_tested=2)


def test_record_written_before_the_guard_is_read_and_renewed(tmp_path, structures, monkeypatch):
    """An old five-field record (choosing the crystal) still reads, with 0 rejections; a reused preparation
    re-chooses with the guard and rewrites the record without re-running."""
    cfg = _deck(tmp_path)
    pcfg = preparation_deck(cfg)
    monkeypatch.setattr(preparation, "_run", _fake_run(structures, MIXED))
    preparation.ensure_preparation(cfg, SerialComm())
    with h5py.File(pcfg.output.file, "a") as f:
        del f[L.LOWEST_IS]
    write_record(pcfg.output.file, preparation.LowestIS(0, 1, 200, -7.2, 6))
    with h5py.File(pcfg.output.file, "a") as f:
        for key in ("crystalline_skipped", "solid_fraction", "skipped_solid_fraction"):
            del f[L.LOWEST_IS].attrs[key]
    old = read_record(pcfg.output.file)
    assert (old.frame, old.crystalline_skipped) == (1, 0) and np.isnan(old.solid_fraction)
    monkeypatch.setattr(preparation, "_run", lambda *a: pytest.fail("a finished preparation was re-run"))
    best = preparation.ensure_preparation(cfg, SerialComm())
    assert (best.replica, best.frame, best.crystalline_skipped) == (0, 2, 2)
    assert read_record(pcfg.output.file) == best
