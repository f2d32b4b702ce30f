"""``pel-hpc run`` with more replicas than rank groups: 8 replicas of N = 65 on 2 and on 4 ranks.

The world run (through the CLI entry point, 4 or 2 replicas per rank in one compiled batch)
is compared with the same deck run by half the ranks (2 → 1, 4 → 2), so the 2- and 4-rank
sessions together chain 1 = 2 = 4 ranks: every replica's positions, images, IS positions and
IS energies read back from the two files are bitwise equal, the replicas differ, and the
file has one particles group per replica.  A run stopped at a checkpoint and continued with
``--restart`` gives the uninterrupted run's file, and a world that cannot hold the ensemble
is refused before any file exists.  With ranks_per_replica = 2 (4 ranks only) one group running
four decomposed replicas one after the other writes the file of two groups.
"""
import h5py
import numpy as np
import pytest

from pel_hpc.cli import main
from pel_hpc.deck.checks import check_world_size
from pel_hpc.deck.validate import load_deck, validate_deck
from pel_hpc.errors import LaunchError
from pel_hpc.io import layout as L
from pel_hpc.io.reader import frame_info, read_frame
from pel_hpc.io.session import run_deck, start_states
from pel_hpc.parallel.comm import MPIComm

DECK = """run: {{name: {name}, seed: 11}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: 0.8}}
stages: [{{name: equilibration, steps: 100, output: false}}, {{name: production, steps: {steps}}}]
quench: {{every: 200, tolerance: 1.0e-8}}
output: {{thermo: 50, positions: 100, is_positions: 200}}
checkpoint: {{every: 200}}
ensemble: {{replicas: {replicas}, ranks_per_replica: 1, mode: iso_configurational}}
"""
STEPS, REPLICAS = 400, 8


def write_deck(folder, name, steps=STEPS, replicas=REPLICAS):
    path = folder / f"{name}.yaml"
    path.write_text(DECK.format(name=name, steps=steps, replicas=replicas))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The world run (CLI), the half-world run, and a stopped-then-restarted world run (CLI)."""
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    folder = world.bcast(tmp_path_factory.mktemp("ens_cli") if world.rank == 0 else None)
    if world.rank == 0:
        write_deck(folder, "world"), write_deck(folder, "half"), write_deck(folder, "part", steps=STEPS - 100)
    world.Barrier()
    assert main(["run", str(folder / "world.yaml")]) == 0
    assert main(["run", str(folder / "part.yaml")]) == 0  # "killed" after its step-400 checkpoint
    if world.rank == 0:
        write_deck(folder, "part")
    world.Barrier()
    assert main(["run", str(folder / "part.yaml"), "--restart"]) == 0
    inside = world.rank < max(1, world.size // 2)
    half = world.Split(int(inside), world.rank)
    if inside:
        run_deck(load_deck(folder / "half.yaml"), MPIComm(half), stream=open("/dev/null", "w"))
    half.Free()
    world.Barrier()
    return folder


def series(path, replica: int) -> dict:
    """Every frame of one replica through the reader, and its IS energies."""
    out = {}
    for source in ("position", "inherent_structure"):
        _, n_frames, _ = frame_info(path, source, replica)
        frames = [read_frame(path, k, source, replica) for k in range(n_frames)]
        out[source] = (np.array([f.step for f in frames]), np.array([f.x for f in frames]),
                       np.array([f.image for f in frames]))
    with h5py.File(path, "r") as f:
        assert f[L.observable_path(replica, L.IS_ENERGY)][L.STEP][()].tolist() == [200, 400]
        out["e_is"] = f[L.observable_path(replica, L.IS_ENERGY)][L.VALUE][()]
        out["n_groups"] = len(f[L.PARTICLES])
    return out


def test_eight_replicas_identical_on_half_the_ranks(runs, world):
    """Bitwise equal per-replica output on P and P/2 ranks; replicas differ; 8 groups in the file."""
    if world.rank == 0:
        e_is = []
        for k in range(REPLICAS):
            a, b = series(runs / "world.h5", k), series(runs / "half.h5", k)
            assert a["n_groups"] == b["n_groups"] == REPLICAS
            # step 100 ended the output-free equilibration, so production writes from step 200
            assert a["position"][0].tolist() == list(range(200, 100 + STEPS + 1, 100))
            assert a["inherent_structure"][0].tolist() == [200, 400]
            for source in ("position", "inherent_structure"):
                for x, y in zip(a[source], b[source]):
                    assert np.array_equal(x, y), (k, source)
            assert np.array_equal(a["e_is"], b["e_is"]) and len(a["e_is"]) == 2
            e_is.append(a["e_is"])
        final = [series(runs / "world.h5", k)["position"][1][-1] for k in range(REPLICAS)]
        assert all(not np.array_equal(final[0], x) for x in final[1:])
        assert len({float(e[-1]) for e in e_is}) == REPLICAS
        with h5py.File(runs / "world.h5", "r") as f:  # a quench descends: e_IS below E_pot of its step
            for k in range(REPLICAS):
                obs = f[L.observable_path(k, L.POTENTIAL_ENERGY)]
                e_pot = obs[L.VALUE][()][np.searchsorted(obs[L.STEP][()], [200, 400])]
                assert np.all(e_is[k] < e_pot - 0.5), (k, e_is[k], e_pot)
    world.Barrier()


def test_restart_continues_every_replica(runs, world):
    """Stopped at the step-400 checkpoint and restarted: the file equals the uninterrupted run's."""
    if world.rank == 0:
        for k in range(REPLICAS):
            a, b = series(runs / "world.h5", k), series(runs / "part.h5", k)
            for source in ("position", "inherent_structure"):
                for x, y in zip(a[source], b[source]):
                    assert np.array_equal(x, y), (k, source)
            assert np.array_equal(a["e_is"], b["e_is"])
    world.Barrier()


def test_batch_equals_replicas_run_alone(tmp_path_factory, world):
    """The batched compiled loop gives each replica bitwise the trajectory of its lone run (NVT)."""
    from pel_hpc.io.session import build_group
    from pel_hpc.parallel.comm import SerialComm
    from pel_hpc.parallel.ensemble import split_world

    folder = tmp_path_factory.mktemp(f"ens_batch{world.rank}")
    cfg = load_deck(write_deck(folder, "batch", replicas=3))
    layout, comm = split_world(SerialComm(), 3, 1)
    groups = [build_group(cfg, layout, comm, start_states(cfg, layout, None, False), open("/dev/null", "w"))
              for _ in range(2)]
    groups[1].batched = False
    assert groups[0].batched
    for g in groups:
        g.run(150, output=False)
    for a, b in zip(*(g.members for g in groups)):
        assert a.state.step == b.state.step == 150
        for name in ("x", "v", "image", "nhc_eta", "nhc_veta"):
            assert np.array_equal(getattr(a.state, name), getattr(b.state, name)), name
        assert a.epot == b.epot and a.virial == b.virial


@pytest.mark.skipif(MPIComm().size < 2, reason="a world larger than one replica needs 2 or more ranks")
def test_world_too_large_is_refused(tmp_path_factory, world):
    """More rank groups than replicas: LaunchError naming the numbers, exit code, no output file."""
    folder = world.bcast(tmp_path_factory.mktemp("ens_refuse") if world.rank == 0 else None)
    if world.rank == 0:
        path = write_deck(folder, "small", replicas=1)
        path.write_text(path.read_text().replace("iso_configurational", "independent"))
    world.Barrier()
    cfg = load_deck(folder / "small.yaml")
    with pytest.raises(LaunchError, match=f"^{world.size} MPI ranks make {world.size} groups of "
                                          "ensemble.ranks_per_replica = 1, more than the deck's 1 replica.*at most 1 rank"):
        check_world_size(cfg, world.size)
    assert main(["run", str(folder / "small.yaml")]) == LaunchError.exit_code
    assert not (folder / "small.h5").exists()
    world.Barrier()


def test_decomposed_replicas_one_after_the_other(tmp_path_factory, world):
    """ranks_per_replica = 2, 4 replicas of N = 260 (reproducible sums): one group running all four
    one after the other per chunk (2 ranks) writes bitwise the file of two groups (4 ranks)."""
    if world.size < 4:
        pytest.skip("needs 4 ranks (two groups of 2 against one)")
    folder = world.bcast(tmp_path_factory.mktemp("ens_rpr") if world.rank == 0 else None)

    def deck(name):
        return validate_deck({
            "run": {"name": name, "seed": 4}, "system": {"n": 260, "cutoff": 1.8},
            "integrator": {"temperature": 0.8}, "stages": [{"name": "production", "steps": 40}],
            "output": {"thermo": 10, "positions": 20}, "quench": {"every": 20},
            "decomposition": {"reproducible": True},
            "ensemble": {"replicas": 4, "ranks_per_replica": 2, "mode": "iso_configurational"}}, folder)

    devnull = open("/dev/null", "w")
    run_deck(deck("four"), MPIComm(world), stream=devnull)
    inside = world.rank < 2
    pair = world.Split(int(inside), world.rank)
    if inside:
        run_deck(deck("two"), MPIComm(pair), stream=devnull)
    pair.Free()
    world.Barrier()
    if world.rank == 0:
        with h5py.File(folder / "four.h5", "r") as a, h5py.File(folder / "two.h5", "r") as b:
            assert len(a[L.PARTICLES]) == 4
            for k in range(4):
                for path in (f"{L.element_path(k, L.POSITION)}/{L.VALUE}",
                             f"{L.observable_path(k, L.IS_ENERGY)}/{L.VALUE}"):
                    assert a[path].shape[0] == 3 and np.array_equal(a[path][()], b[path][()]), (k, path)
            finals = [a[f"{L.element_path(k, L.POSITION)}/{L.VALUE}"][-1] for k in range(4)]
            assert all(not np.array_equal(finals[0], x) for x in finals[1:])
    world.Barrier()
