"""Build a ready-to-run :class:`~pel_hpc.simulation.Simulation` from a validated deck.

Nothing here sees a raw dict: the input is a :class:`pel_hpc.deck.config.RunConfig`.
The H5MD writer and checkpoint operations are added by the caller (``extra_operations``),
after the engine's QuenchOp so a step's quench precedes its output.
"""
from __future__ import annotations

import sys

from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.init import pushed_random_state, replicate
from pel_hpc.md.velocities import maxwell_boltzmann
from pel_hpc.operations import QuenchOp, ThermoOp
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.grid import owned_by
from pel_hpc.parallel.reduction import ExactSums
from pel_hpc.physics.kob_andersen import pair_table
from pel_hpc.simulation import Integrator, Simulation
from pel_hpc.state import State


def make_domain(cfg, comm, table):
    """Serial domain on one rank; the decomposed domain of ``pel_hpc.parallel`` on several.

    Reproducible mode uses the decomposed domain (a 1×1×1 grid) on one rank too, so a
    one-rank run is bitwise the same as runs on any rank count.
    """
    if comm.size == 1 and not cfg.decomposition.reproducible:
        return SerialDomain(table.rc_max, cfg.system.skin, comm, threads=cfg.run.threads)
    from pel_hpc.parallel.domain import DecomposedDomain

    return DecomposedDomain(table.rc_max, cfg.system.skin, comm, cfg.decomposition.grid,
                            cfg.decomposition.reproducible, cfg.decomposition.balance, threads=cfg.run.threads)


def make_integrator(cfg) -> Integrator:
    """Velocity Verlet with an NHC of ``integrator.chain`` links (NVT) or none (NVE)."""
    icfg = cfg.integrator
    chain = icfg.chain if icfg.ensemble == "nvt" else 0
    return Integrator(icfg.dt, icfg.temperature, icfg.tau_t, chain)


def initial_state(cfg, comm, table, replica: int = 0, stream=None) -> State:
    """Start configuration per ``system.init`` with Maxwell–Boltzmann velocities at T.

    Random starts are pushed apart (capped FIRE) on the ranks of ``comm`` (None: this process alone;
    bitwise the same start on any rank count, :func:`pel_hpc.md.init.pushed_random_state`); file
    starts read the frame with :func:`pel_hpc.io.reader.read_frame` and keep its velocities if stored
    with it;
    ``lowest_inherent_structure`` reads the IS of lowest energy of the file
    (:func:`pel_hpc.preparation.lowest_inherent_structure`) with fresh velocities.  Kinds
    ``replicate`` and ``lowest_inherent_structure`` copy the frame ``system.init.replicate`` times.
    In an iso-configurational ensemble (``ensemble.mode``) every replica starts from
    replica 0's positions with its own fresh velocities (never the file's), exactly as
    :func:`pel_hpc.parallel.ensemble.replica_states` makes them for batched replicas.
    On several ranks every start (but a random one in a tiny box) is made owned: each rank draws, reads or
    replicates only the particles it owns on the run's grid, so none holds a whole large system;
    ``domain.setup`` then keeps them (or distributes a state held whole).  ``stream`` receives the
    random start's one-line report.
    """
    sysc, init, seed = cfg.system, cfg.system.init, cfg.run.seed
    iso = cfg.ensemble.mode == "iso_configurational"
    if init.kind == "random":
        state = pushed_random_state(sysc.n, sysc.density, sysc.fraction_a, seed, 0 if iso else replica, table,
                                    sysc.skin, comm, cfg.decomposition.grid, stream)
        keep_v = False
    else:
        owned = comm is not None and comm.size > 1 and init.replicate == (1, 1, 1)
        fr = _start_frame(init, (lambda box: owned_by(comm, box, table.rc_max + sysc.skin, cfg.decomposition.grid))
                          if owned else None)
        keep_v = fr.v is not None and init.kind != "lowest_inherent_structure" and init.source == "position" \
            and not iso
        state = State.from_arrays(fr.x, fr.species, fr.box, v=fr.v if keep_v else None, image=fr.image,
                                  tag=fr.tag, seed=seed, replica=replica)
        if owned:
            state.n_global = int(comm.allreduce_sum(state.n_local))
        if init.replicate != (1, 1, 1):
            keep = None if comm is None or comm.size == 1 else \
                owned_by(comm, fr.box * init.replicate, table.rc_max + sysc.skin, cfg.decomposition.grid)
            state = replicate(state, init.replicate, keep=keep)
    state.seed, state.replica, state.step = seed, replica, 0
    if not keep_v:
        start_velocities(state, comm, cfg.integrator.temperature)
    return state


def start_velocities(state, comm, temperature: float) -> None:
    """Maxwell–Boltzmann velocities at ``temperature`` (:func:`pel_hpc.md.velocities.maxwell_boltzmann`)
    with exact global sums: the same bits whether this process holds every particle, or each rank of
    ``comm`` its share (``n_local < n_global``), over which the sums then run."""
    shared = comm is not None and state.n_local < state.n_global
    maxwell_boltzmann(state, ExactSums(comm if shared else SerialComm()), temperature)


def _start_frame(init, keep=None):
    """The start frame of a file start: the deck's frame, or the file's lowest inherent structure
    (``keep``: :func:`pel_hpc.io.reader.read_frame`'s, to read only some particles)."""
    from pel_hpc.io.reader import read_frame

    if init.kind == "lowest_inherent_structure":
        from pel_hpc.preparation import lowest_inherent_structure

        best = lowest_inherent_structure(init.file)
        return read_frame(init.file, best.frame, "inherent_structure", best.replica, keep)
    return read_frame(init.file, init.frame, init.source, init.replica, keep)


def build_simulation(cfg, comm=None, replica: int = 0, stream=None, extra_operations=None,
                     state=None) -> Simulation:
    """Simulation of one replica of the deck on ``comm`` (set up, forces computed).

    ``state`` (workflow hook): a restored checkpoint state used instead of the deck's start.

    ``extra_operations(cfg, quench_op, sim)`` may return more operations (writer,
    checkpoint); it is called after the set-up, so the state is distributed.  The order is
    QuenchOp, ThermoOp, then the extra ones.
    """
    comm = SerialComm() if comm is None else comm
    table = pair_table(cfg.system.cutoff, cfg.system.truncation)
    domain = make_domain(cfg, comm, table)
    if state is None:  # the start's report goes where the thermo table goes
        state = initial_state(cfg, comm, table, replica, sys.stdout if stream is None else stream)
    q = cfg.quench
    quench_op = QuenchOp(q.every, q.tolerance, q.method, q.max_iter)
    ops = [quench_op, ThermoOp(cfg.output.thermo, stream)]
    sim = Simulation(state, domain, table, make_integrator(cfg), ops).setup()
    if extra_operations is not None:
        sim.operations += list(extra_operations(cfg, quench_op, sim))
    return sim


def run_stages(sim: Simulation, cfg) -> None:
    """Run the deck's stages in order (``output: false`` stages skip output operations)."""
    for stage in cfg.stages:
        sim.run(stage.steps, output=stage.output)
