"""Cross-checks of a deck: derived values, paths, and combinations of keys that must agree.

Called by :func:`pel_hpc.deck.validate.validate_deck` after every key has been type- and
range-checked, so each function here sees well-typed values.  Geometry checks use the
largest KA diameter (σ_AA = 1, Kob & Andersen 1995), so ``r_c·σ_AA`` is the largest cut-off.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from pel_hpc.deck import preparation as prep_deck
from pel_hpc.deck.schema import DERIVED
from pel_hpc.errors import DeckError, InputFileError, LaunchError

SIGMA_MAX = 1.0  # σ_AA, the largest of σ_AA = 1, σ_AB = 0.8, σ_BB = 0.88 [sigma]


def resolve_paths(sections: dict, base_dir: Path) -> dict:
    """Fill the derived file names and make every path absolute (relative to the deck folder)."""
    out = sections["output"]
    out_file = f"{sections['run'].name}.h5" if out.file is DERIVED else out.file
    out_path = (base_dir / out_file).resolve()
    if not out_path.parent.is_dir():
        raise DeckError(f"output.file: folder '{out_path.parent}' does not exist")
    chk = sections["checkpoint"]
    if chk.file is DERIVED:
        chk_path = out_path.with_name(out_path.name.removesuffix(".h5") + ".chk.h5")
    else:
        chk_path = None if chk.file is None else (base_dir / chk.file).resolve()
    init = sections["system"].init
    init_path = None if init.file is None else str((base_dir / init.file).resolve())
    system = replace(sections["system"], init=replace(init, file=init_path))
    prep = prep_deck.resolve(sections["preparation"], sections["run"], sections["integrator"], out_path, base_dir)
    return {**sections, "system": system, "output": replace(out, file=str(out_path)),
            "checkpoint": replace(chk, file=None if chk_path is None else str(chk_path)), "preparation": prep}


def cross_check(cfg):
    """Derive ``system.n`` (and density for file starts) and the ranks per replica of an explicit
    grid, then check combinations."""
    cfg = replace(cfg, system=_derive_system(cfg.system, cfg.preparation))
    grid = cfg.decomposition.grid
    if cfg.ensemble.ranks_per_replica == "auto" and grid != "auto":
        cfg = replace(cfg, ensemble=replace(cfg.ensemble, ranks_per_replica=math.prod(grid)))
    _check_files(cfg)
    prep_deck.preparation_deck(cfg)  # the derived preparation deck must be valid too
    _check_geometry(cfg)
    _check_cadences(cfg)
    _check_ensemble(cfg)
    return cfg


def _derive_system(system, prep):
    init = system.init
    if init.kind in ("random", "file") and init.replicate != (1, 1, 1):
        raise DeckError("system.init.replicate: only used with system.init.kind 'replicate' or "
                        "'lowest_inherent_structure'")
    if prep is not None:
        return _derive_from_preparation(system, prep)
    if init.kind == "random":
        if init.file is not None:
            raise DeckError("system.init.file: given, but system.init.kind is 'random' (use kind: file)")
        if system.n is DERIVED:
            raise DeckError("system.n: required key is missing when system.init.kind is 'random'")
        return system
    if init.file is None:
        extra = " (or add a preparation section)" if init.kind == "lowest_inherent_structure" else ""
        raise DeckError(f"system.init.file: required when system.init.kind is '{init.kind}'{extra}")
    if not Path(init.file).is_file():
        raise InputFileError(f"system.init.file: no such file '{init.file}'")
    from pel_hpc.io.reader import frame_info  # h5py only when a start file is used

    source = "inherent_structure" if init.kind == "lowest_inherent_structure" else init.source
    n_file, n_frames, box = frame_info(init.file, source, init.replica)
    if not -n_frames <= init.frame < n_frames:
        raise DeckError(f"system.init.frame: {init.frame} is out of range for {n_frames} frames "
                        f"of '{source}' in '{init.file}'")
    return _with_n(system, n_file, math.prod(box), "the start file")


def _with_n(system, n_small: int, volume: float, what: str):
    """``system`` with N = n_small × copies and the density of the replicated configuration."""
    copies = math.prod(system.init.replicate)
    n = n_small * copies
    if system.n is not DERIVED and system.n != n:
        raise DeckError(f"system.n: {system.n} disagrees with {what} ({n_small} particles x {copies})")
    return replace(system, n=n, density=n / (volume * copies))


def _derive_from_preparation(system, prep):
    """A preparation run starts the deck: N and density follow from ``preparation.n`` and ``system.density``."""
    init = system.init
    if init.kind != "lowest_inherent_structure":
        raise DeckError(f"preparation: given, but system.init.kind is '{init.kind}'; use kind: "
                        "lowest_inherent_structure to start from the preparation's lowest inherent structure")
    if init.file is not None:
        raise DeckError("system.init.file: given together with a preparation section (the start is the "
                        "preparation's file, preparation.file); drop one of them")
    system = _with_n(system, prep.n, prep.n / system.density, "preparation.n")
    return replace(system, init=replace(init, file=prep.file, source="inherent_structure"))


def _check_files(cfg) -> None:
    out, chk, start = cfg.output.file, cfg.checkpoint.file, cfg.system.init.file
    if cfg.preparation is not None and cfg.preparation.file in (out, chk):
        key = "output.file" if cfg.preparation.file == out else "checkpoint.file"
        raise DeckError(f"preparation.file: is the production's {key} '{cfg.preparation.file}'")
    if start is not None and start == out:
        raise DeckError("output.file: is the start file system.init.file; it would be overwritten")
    if chk is not None and chk == out:
        raise DeckError("checkpoint.file: must differ from output.file")
    if cfg.checkpoint.every > 0 and chk is None:
        raise DeckError("checkpoint.file: is null but checkpoint.every > 0")
    files = [("output.file", out), ("checkpoint.file", chk)]
    files += [("preparation.file", cfg.preparation.file)] if cfg.preparation is not None else []
    for key, path in files:
        if path is not None and Path(path).is_dir():
            raise DeckError(f"{key}: '{path}' is a folder; name a file in it")
        if path is not None and not Path(path).parent.is_dir():
            raise DeckError(f"{key}: folder '{Path(path).parent}' does not exist")


def box_edge(cfg) -> float:
    """Edge L of the cubic box: L = (N/ρ)^(1/3) [sigma]."""
    return (cfg.system.n / cfg.system.density) ** (1.0 / 3.0)


def halo_width(cfg) -> float:
    """Width of a sub-box's halo, the largest list radius r_c σ_AA + skin [sigma]."""
    return cfg.system.cutoff * SIGMA_MAX + cfg.system.skin


def check_auto_grid(cfg, ranks: int) -> None:
    """Can ``decomposition.grid: auto`` split the deck's cubic box over ``ranks`` ranks?  For
    ``pel-hpc validate --ranks``; a run checks its actual box when its domain is set up.

    Raises
    ------
    DecompositionError
        Naming the largest grid that works.
    """
    from pel_hpc.parallel.grid import choose_dims

    if ranks > 1 and cfg.decomposition.grid == "auto":  # an explicit grid was checked with the deck
        choose_dims(ranks, [box_edge(cfg)] * 3, halo_width(cfg))


def _check_geometry(cfg) -> None:
    system = cfg.system
    n_a = round(system.fraction_a * system.n)
    if n_a < 1:
        raise DeckError(f"system.fraction_a: {system.fraction_a} of N={system.n} leaves no A particle")
    edge = box_edge(cfg)
    r_cut = system.cutoff * SIGMA_MAX
    if r_cut >= edge / 2:
        raise DeckError(f"system.cutoff: r_c = {r_cut:g} sigma is not below half the box edge "
                        f"L/2 = {edge / 2:.4g} sigma (N={system.n}, density {system.density:g})")
    grid = cfg.decomposition.grid
    if grid == "auto":
        return
    if math.prod(grid) != cfg.ensemble.ranks_per_replica:
        raise DeckError(f"decomposition.grid: {grid[0]}x{grid[1]}x{grid[2]} = {math.prod(grid)} ranks, "
                        f"but ensemble.ranks_per_replica is {cfg.ensemble.ranks_per_replica}")
    width = edge / max(grid)
    if width < halo_width(cfg):
        raise DeckError(f"decomposition.grid: sub-box width {width:.4g} sigma is below the halo width "
                        f"r_c + skin = {halo_width(cfg):g} sigma")


def _check_cadences(cfg) -> None:
    every, is_pos = cfg.quench.every, cfg.output.is_positions
    if is_pos > 0 and every == 0:
        raise DeckError("output.is_positions: needs quenches, but quench.every is 0")
    if is_pos > 0 and is_pos % every != 0:
        raise DeckError(f"output.is_positions: {is_pos} is not a multiple of quench.every = {every}")


def _check_ensemble(cfg) -> None:
    ens = cfg.ensemble
    if ens.mode == "iso_configurational" and ens.replicas < 2:
        raise DeckError("ensemble.mode: iso_configurational needs ensemble.replicas >= 2")


def ranks_per_replica(cfg, size: int) -> int:
    """Ranks of each replica's group on a world of ``size`` ranks: ``ensemble.ranks_per_replica``, or
    for ``auto`` the world shared equally (1 when there are at least as many replicas as ranks).

    Raises
    ------
    LaunchError
        ``auto`` with more ranks than replicas that do not share them equally.
    """
    ens = cfg.ensemble
    if ens.ranks_per_replica != "auto":
        return ens.ranks_per_replica
    if size <= ens.replicas:
        return 1
    if size % ens.replicas:
        fits = ", ".join(str(k * ens.replicas) for k in (1, 2, 3))
        raise LaunchError(f"{size} MPI ranks cannot be shared equally by the deck's {ens.replicas} replicas "
                          f"(ensemble.ranks_per_replica: auto); use {fits}, ... ranks or at most {ens.replicas}")
    return size // ens.replicas


def check_world_size(cfg, size: int) -> int:
    """The ranks per replica on a world of ``size`` ranks (:func:`ranks_per_replica`); refuses a
    rank count that cannot run the deck's ensemble.

    The world is split into groups of :func:`ranks_per_replica` ranks, each running one or more
    replicas, so ``size`` must be a multiple of it with at most ``ensemble.replicas`` groups.

    Raises
    ------
    LaunchError
        One line naming the numbers and the fix.
    """
    ens, per = cfg.ensemble, ranks_per_replica(cfg, size)
    if size % per:
        raise LaunchError(f"{size} MPI ranks cannot form groups of ensemble.ranks_per_replica = {per}; "
                          f"use a multiple of {per}")
    if size // per > ens.replicas:
        more = f"; to split each replica over {size // ens.replicas} ranks set ensemble.ranks_per_replica: " \
               f"{size // ens.replicas} (or auto)" if size % ens.replicas == 0 else ""
        most = ens.replicas * per
        raise LaunchError(f"{size} MPI ranks make {size // per} groups of ensemble.ranks_per_replica = {per}, "
                          f"more than the deck's {ens.replicas} replica(s): use at most {most} "
                          f"rank{'s' if most > 1 else ''}{more}")
    return per
