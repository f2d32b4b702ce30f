"""The deck's preparation stage (Sect. III B): replicated inherent structures, the lowest IS, restart semantics.

Independent references: the Hessian of the replicated configuration by finite differences of the
force kernel (an IS is a minimum: zero force, no negative curvature), and every stored IS energy
recomputed from its positions (the chosen one must be the minimum).
"""
import os
from dataclasses import replace

import h5py
import numpy as np
import pytest

from pel_hpc.build import initial_state
from pel_hpc.deck.preparation import preparation_deck
from pel_hpc.deck.validate import validate_deck
from pel_hpc.errors import CheckpointExit
from pel_hpc.io import layout as L
from pel_hpc.io import session
from pel_hpc.io.checkpoint import checkpoint_step
from pel_hpc.io.reader import read_frame
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.md.init import replicate
from pel_hpc.md.minimize import quench
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.physics.kob_andersen import pair_table
from pel_hpc.preparation import DONE, RESUME, lowest_inherent_structure, preparation_status
from pel_hpc.state import State

CUTOFF = 1.8


def _forces(x, typ, box, table):
    s = State.from_arrays(x, typ, box)
    dom = SerialDomain(table.rc_max, 0.3)
    dom.setup(s)
    epot, _ = compute_forces(s, dom, table)
    f = np.empty((s.n_global, 3))
    f[s.tag[: s.n_local]] = s.f[: s.n_local]
    return epot, f


def _hessian(x, typ, box, table, h=1e-5):
    """Central finite differences of the forces: H = -dF/dx, (3N, 3N) [epsilon/sigma^2].

    One neighbour list (built with a 0.3 sigma skin) serves every displaced configuration; the
    domain's refresh moves the ghost images with their owner.
    """
    n = len(x)
    s = State.from_arrays(x, typ, box)
    dom = SerialDomain(table.rc_max, 0.3)
    dom.setup(s)
    row = np.argsort(s.tag[:n])  # local row of each tag
    hess = np.empty((3 * n, 3 * n))
    for k in range(3 * n):
        i, d = row[k // 3], k % 3
        s.x[i, d] += h
        assert not dom.refresh(s)  # ghost images follow their owner (no rebuild: rows stay put)
        compute_forces(s, dom, table)
        fp = s.f[row].copy()
        s.x[i, d] -= 2 * h
        dom.refresh(s)
        compute_forces(s, dom, table)
        s.x[i, d] += h
        hess[k] = -(fp - s.f[row]).ravel() / (2 * h)
    return 0.5 * (hess + hess.T)


def test_replicated_inherent_structure_is_still_an_inherent_structure(liquid65):
    """2x2x2 copies of a 65-particle IS: exactly 8N particles, the same e_IS per particle, zero force,
    and a minimum of the 520-particle landscape (Hessian: 3 zero translation modes, the rest > 0)."""
    table = pair_table(CUTOFF)
    res = quench(liquid65, SerialDomain(table.rc_max, 0.3), table, tol=1e-10)
    small = State.from_arrays(res.x_is, liquid65.typ[np.argsort(liquid65.tag[:65])], liquid65.box)
    big = replicate(small, (2, 2, 2))
    assert big.n_global == 8 * 65
    assert np.array_equal(np.bincount(big.typ), 8 * np.bincount(small.typ))
    e_big, f_big = _forces(big.x[:520], big.typ[:520], big.box, table)
    assert e_big / 520 == pytest.approx(res.e_is, rel=1e-12)
    assert np.linalg.norm(f_big) < 1e-9 * np.sqrt(8) * 10  # |F|_2 of 8 copies of a 1e-10 minimum
    eig = np.linalg.eigvalsh(_hessian(big.x[:520], big.typ[:520], big.box, table))
    assert np.all(np.abs(eig[:3]) < 1e-4)  # uniform translations
    assert eig[3] > 1e-3, eig[:6]  # no unstable mode: still a local minimum at N = 520


def _prep_deck(folder, name="prep", **over):
    data = {"run": {"name": name, "seed": 3},
            "system": {"cutoff": CUTOFF, "init": {"kind": "lowest_inherent_structure", "replicate": [1, 1, 1]}},
            "integrator": {"temperature": 0.6}, "stages": [{"name": "production", "steps": 200}],
            "quench": {"every": 0}, "output": {"thermo": 100, "positions": 100},
            "checkpoint": {"every": 1000},
            "ensemble": {"replicas": 2, "mode": "iso_configurational"},
            "preparation": {"n": 65, "temperature": 0.8, "equilibration": 500, "steps": 3000,
                            "quench_every": 100, "replicas": 2}}
    for key, value in over.items():
        data[key] = {**data[key], **value}
    return validate_deck(data, folder)


def _run(cfg, stop_preparation_at=None, monkeypatch=None):
    """run_deck; optionally 'kill' the preparation right after its checkpoint at step ``stop_preparation_at``."""
    if stop_preparation_at is not None:
        original = session.run_remaining

        def killed(group, cfg_):
            if cfg_.preparation is None and cfg_.total_steps > stop_preparation_at:  # the preparation deck
                stages, left = [], stop_preparation_at
                for s in cfg_.stages:
                    stages.append(replace(s, steps=min(s.steps, left)))
                    left -= stages[-1].steps
                original(group, replace(cfg_, stages=tuple(stages)))
                raise CheckpointExit("killed")
            original(group, cfg_)

        monkeypatch.setattr(session, "run_remaining", killed)
    # as `pel-hpc run --overwrite`: a rerun replaces the production's output (the preparation decides alone)
    return session.run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"), overwrite=True)


def test_chosen_start_is_the_lowest_stored_inherent_structure(tmp_path):
    """Every stored IS energy recomputed from its positions; the start is the minimum over both
    preparation replicas, replicated, with e_pot(step 0) = its e_IS."""
    cfg = _prep_deck(tmp_path, system={"init": {"kind": "lowest_inherent_structure", "replicate": [2, 1, 1]}})
    group = _run(cfg)
    table = pair_table(CUTOFF)
    prep_file = cfg.preparation.file
    energies = []
    with h5py.File(prep_file, "r") as f:
        for r in range(2):
            stored = f[L.observable_path(r, L.IS_ENERGY)][L.VALUE][()]
            assert len(stored) == 30  # one IS every 100 steps of the 3000-step trajectory
            for k in range(len(stored)):
                fr = read_frame(prep_file, k, "inherent_structure", r)
                e = _forces(fr.x, fr.species, fr.box, table)[0] / 65
                assert e == pytest.approx(stored[k], abs=1e-10)
                energies.append((e, r, k))
        record = dict(f[L.LOWEST_IS].attrs)
    e_min, r_min, k_min = min(energies)
    best = lowest_inherent_structure(prep_file)
    assert (best.replica, best.frame, best.candidates) == (r_min, k_min, 60)
    assert record["e_is"] == best.e_is and record["replica"] == r_min
    assert len({round(e, 8) for e, _, _ in energies}) > 5  # the trajectory visited many IS
    fr = read_frame(prep_file, k_min, "inherent_structure", r_min)
    start = initial_state(cfg, None, table, replica=1)
    assert start.n_global == 130 and np.allclose(start.box, fr.box * [2, 1, 1])
    x = np.empty((130, 3))
    x[start.tag[:130]] = start.x[:130]
    assert np.allclose(x[:65], fr.x) and np.allclose(x[65:], fr.x + [fr.box[0], 0, 0])
    with h5py.File(cfg.output.file, "r") as f:
        e0 = f[L.observable_path(0, L.POTENTIAL_ENERGY)][L.VALUE][0]
    assert e0 == pytest.approx(e_min, abs=1e-10) and group.step == 200


def test_killed_preparation_resumes_and_finished_one_is_reused(tmp_path, monkeypatch):
    """Killed after its step-1000 checkpoint, the preparation continues (with or without --restart)
    to the file of an uninterrupted run, bitwise; a finished preparation is never run again."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    ref = _prep_deck(tmp_path / "a")
    _run(ref)
    cfg = _prep_deck(tmp_path / "b")
    pcfg = preparation_deck(cfg)
    with pytest.raises(CheckpointExit):
        _run(cfg, stop_preparation_at=1000, monkeypatch=monkeypatch)
    monkeypatch.undo()
    assert checkpoint_step(pcfg.checkpoint.file) == 1000 and not os.path.exists(cfg.output.file)
    assert preparation_status(pcfg, 1) == RESUME
    _run(cfg)
    assert preparation_status(pcfg, 1) == DONE
    with h5py.File(ref.preparation.file, "r") as a, h5py.File(cfg.preparation.file, "r") as b:
        for r in range(2):
            for path in (f"{L.element_path(r, L.INHERENT_STRUCTURE)}/{L.VALUE}",
                         f"{L.observable_path(r, L.IS_ENERGY)}/{L.VALUE}"):
                assert np.array_equal(a[path][()], b[path][()]), path
    stamp = os.stat(cfg.preparation.file).st_mtime_ns
    _run(cfg)  # the production again (as after a kill): the preparation is reused, not redone
    assert os.stat(cfg.preparation.file).st_mtime_ns == stamp
    changed = _prep_deck(tmp_path / "b", preparation={"temperature": 0.9})
    assert preparation_status(preparation_deck(changed), 1) != DONE  # another preparation: not reused
