r"""Structural-event analysis of an iso-configurational ensemble (ICE), Sect. III B and App. C of the paper.

Orchestrates :mod:`postprocess.events` and :mod:`postprocess.structure` over the replicas of one run:
g_AA(r) from frames sampled across the replicas (first-shell radius = its first minimum, and N_av(d)),
structural events replica by replica, the first two structural events of each replica, and the
distance statistics of Fig. 4 and Fig. 11.  Parameters are given in LJ time [τ] and converted to frames
with the position cadence of the file.

Δt ≈ τα (``lag``) comes from the ensemble itself unless given: the incoherent scattering function of
the A particles from the common start,

.. math:: F_s(k,t) = \Big\langle \frac{\sin k|\mathbf r_i(t)-\mathbf r_i(0)|}{k|\mathbf r_i(t)-\mathbf r_i(0)|}
          \Big\rangle_{i \in A,\ \mathrm{replicas}},

(one time origin, t = 0: the iso-configurational average replaces the time average), fitted by KWW
(:func:`postprocess.kww.fit_kww`), τα = τ0/β Γ(1/β) at k = ``k_alpha`` (7.25 σ⁻¹, the first peak of
S_AA(k)); ``--lag`` overrides it.  The chosen Δt and its source are in the CSV header and the figures.

Command: ``python -m postprocess.ice FILE.h5 --out DIR`` writes ``DIR/<stem>_events.csv``; the figures
``postprocess.figures.fig04`` / ``fig11`` run the same analysis (same options) and plot it.
"""
import argparse
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import h5py
import numpy as np

from pel_hpc.errors import CorruptFileError, DeckError, InputFileError
from pel_hpc.io import layout
from postprocess.dynamics import scattering
from postprocess.events import EventRule, detect_events, distance_statistics, first_event_pairs
from postprocess.io import provenance, read_positions
from postprocess.kww import fit_kww
from postprocess.structure import first_minimum, radial_distribution
from postprocess.command import run


SHELL_TYPES = {"all": (0, 1), "A": (0,)}


@dataclass(frozen=True)
class IceOptions:
    """Analysis options in LJ units: averaging ``window`` [τ], local ``jump`` [σ], ``lag`` Δt ≈ τα [τ]
    (None: τα of the ensemble's F_s at ``k_alpha`` [1/σ], module docstring),
    ``msd_threshold`` [σ²], ``r_shell`` [σ] (None: first minimum of g_AA), ``merge_time`` [τ],
    distance bins of width ``d_bin`` up to ``d_max`` [σ] (None: L/2), ``rdf_frames`` sampled for g(r), and
    the species of the first ``shell``: "all" (the paper's text) or "A"."""

    window: float = 2.0
    jump: float = 0.4
    lag: float | None = None
    k_alpha: float = 7.25
    msd_threshold: float = 2.0
    r_shell: float | None = None
    merge_time: float = 0.0
    d_bin: float = 0.25
    d_max: float | None = None
    rdf_frames: int = 40
    shell: str = "all"

    def rule(self, frame_dt: float, r_shell: float, lag: float) -> EventRule:
        """The frame-based :class:`EventRule` for positions written every ``frame_dt`` [τ], Δt = ``lag`` [τ]."""
        window = max(1, int(round(self.window / frame_dt)))
        lag = max(window, int(round(lag / frame_dt)))
        return EventRule(window=window, jump=self.jump, lag=lag, msd_threshold=self.msd_threshold,
                         r_shell=r_shell, shell_types=SHELL_TYPES[self.shell])


@dataclass(frozen=True)
class Ensemble:
    """An ICE on disk or in memory: ``types`` (N,), ``box`` (3,) [σ], ``n_replicas`` and ``read(r)`` →
    (times (F,) [τ], unwrapped positions (F, N, 3) [σ]) of replica r; file ``provenance`` if any."""

    types: np.ndarray
    box: np.ndarray
    n_replicas: int
    read: object
    provenance: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Relaxation:
    """τα of an ensemble: ``tau_alpha`` [τ] from the KWW ``fit`` of the replica-averaged F_s(k, t) (``time``,
    ``fs``) at ``k`` [1/σ]; ``lag`` is the Δt used [τ] and ``source`` says where it came from."""

    tau_alpha: float
    fit: object
    time: np.ndarray
    fs: np.ndarray
    k: float
    lag: float
    source: str


@dataclass(frozen=True)
class IceResult:
    """Everything of one analysis: the options, the ensemble analysed, the frame rule, g_AA, per-replica event tables,
    the first-pair arrays, the distance statistics and the relaxation (Δt) used."""

    options: IceOptions
    ensemble: Ensemble
    rule: EventRule
    rdf: object
    tables: list
    pairs: object
    stats: object
    relaxation: Relaxation


def sampled_frames(ensemble: Ensemble, n_frames: int, n_replicas: int = 4) -> np.ndarray:
    """About ``n_frames`` positions (S, N, 3) spread evenly over the trajectories of the first replicas."""
    used = min(ensemble.n_replicas, int(n_replicas))
    per_replica = max(1, -(-int(n_frames) // used))
    picks = [ensemble.read(r)[1] for r in range(used)]
    return np.concatenate([x[np.linspace(0, len(x) - 1, per_replica).astype(int)] for x in picks])


def frame_spacing(times, replica: int) -> float:
    """The constant time between position frames [τ]; a DeckError if there is none."""
    step = np.diff(np.asarray(times, dtype=float))
    if step.size == 0 or step[0] <= 0.0 or not np.allclose(step, step[0], rtol=1e-6):
        raise DeckError(f"positions of replica {replica} are not at least 2 frames at one constant cadence")
    return float(step[0])


def ensemble_scattering(ensemble: Ensemble, k: float):
    """(time [τ], F_s(k, t)) of the A particles from the common start t = 0, averaged over the replicas."""
    total, time = None, None
    for r in range(ensemble.n_replicas):
        times, positions = ensemble.read(r)
        res = scattering(positions, frame_spacing(times, r), [k], n_origins=1, select=ensemble.types == 0)
        if time is not None and not np.array_equal(res.time, time):
            raise DeckError(f"replica {r} has {len(times)} position frames, unlike replica 0")
        total = res.fs[:, 0] if total is None else total + res.fs[:, 0]
        time = res.time
    return time, total / ensemble.n_replicas


def relaxation(ensemble: Ensemble, options: IceOptions) -> Relaxation:
    """Δt: ``options.lag`` if given, else τα of the ensemble's F_s(k_alpha, t) (KWW; module docstring).

    Raises
    ------
    DeckError
        When no ``lag`` is given and F_s does not decay into the KWW window within the run, or its
        τα lies beyond the run (no event could then be classified).
    """
    time, fs = ensemble_scattering(ensemble, options.k_alpha)
    try:
        fit = fit_kww(time, fs)
        tau = float(fit.tau_alpha)
    except DeckError:
        fit, tau = None, float("nan")
    if options.lag is not None:
        return Relaxation(tau, fit, time, fs, options.k_alpha, float(options.lag), "--lag")
    if fit is None or not np.isfinite(tau):
        raise DeckError(f"no tau_alpha from the ensemble: F_s(k={options.k_alpha:g}) stays at {fs.min():.3g} or "
                        "above within the run (too short for the KWW window 0.02-0.8); give --lag")
    if tau >= time[-1]:
        raise DeckError(f"tau_alpha = {tau:.4g} tau of the ensemble (KWW of F_s(k={options.k_alpha:g}), extrapolated) "
                        f"exceeds the run ({time[-1]:.4g} tau), so no event could be classified; give --lag")
    return Relaxation(tau, fit, time, fs, options.k_alpha, tau,
                      f"tau_alpha: KWW of F_s(k={options.k_alpha:g}) of the ensemble, beta {fit.beta:.2f}")


def analyse(ensemble: Ensemble, options: IceOptions) -> IceResult:
    """Run the whole ICE analysis (module docstring) and return an :class:`IceResult`.

    Each replica contributes one pair of events (its first two), so a file of one replica is refused:
    its N(d) would be a single count."""
    if ensemble.n_replicas < 2:
        raise DeckError(f"{ensemble.provenance.get('file', 'the file')} holds {ensemble.n_replicas} replica: the "
                        "structural-event analysis takes one event pair per replica of an iso-configurational "
                        "ensemble (a run with ensemble.replicas >= 2, mode iso_configurational)")
    box = np.asarray(ensemble.box, dtype=float)
    rdf = radial_distribution(sampled_frames(ensemble, options.rdf_frames), box, ensemble.types,
                              pair=(0, 0), n_bins=200)
    r_shell = first_minimum(rdf) if options.r_shell is None else float(options.r_shell)
    relax = relaxation(ensemble, options)
    tables, rule, t_start = [], None, None
    for r in range(ensemble.n_replicas):
        times, positions = ensemble.read(r)
        frame_dt = frame_spacing(times, r)
        if rule is None:
            t_start, rule = float(times[0]), options.rule(frame_dt, r_shell, relax.lag)
        tables.append(detect_events(positions, ensemble.types, box, times, rule))
    d_max = 0.5 * box.min() if options.d_max is None else min(options.d_max, 0.5 * box.min())
    edges = np.arange(0.0, d_max + 1e-9, options.d_bin)
    pairs = first_event_pairs(tables, box, t_start=t_start, merge_time=options.merge_time)
    stats = distance_statistics(pairs, rdf, edges, float(np.prod(box)))
    return IceResult(options, ensemble, rule, rdf, tables, pairs, stats, relax)


def write_csv(result: IceResult, path: Path, source: str) -> Path:
    """Write the Fig. 4 / Fig. 11 table with a header naming the source, the rule and τ01."""
    s = result.stats
    prov = result.ensemble.provenance
    header = [f"source: {source}  git_commit: {prov.get(layout.ATTR_GIT_COMMIT, 'n/a')}",
              f"rule (frames, sigma): {asdict(result.rule)}",
              f"options (tau, sigma): {asdict(result.options)}",
              f"Delta t = {result.relaxation.lag:.6g} tau ({result.relaxation.source}); "
              f"tau_alpha = {result.relaxation.tau_alpha:.6g} tau",
              f"replicas: {len(result.tables)}  pairs: {s.n_pairs}  tau01: {s.tau01:.6g} +- {s.tau01_err:.6g}",
              "d_lo,d_hi,N,N_av,ratio,ratio_err,tau12,tau12_err"]
    table = np.column_stack([s.edges[:-1], s.edges[1:], s.n, s.n_av, s.ratio, s.ratio_err, s.tau12, s.tau12_err])
    np.savetxt(path, table, delimiter=",", fmt="%.6g", header="\n".join(header))
    return path


HELP = {"lag": "Delta t ~ tau_alpha [tau] (default: tau_alpha from the KWW fit of the ensemble's own F_s)",
        "k_alpha": "wave vector of F_s for tau_alpha [1/sigma] (default 7.25, first peak of S_AA)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options shared by ``postprocess.ice`` and the Fig. 4 / Fig. 11 scripts."""
    parser.add_argument("file", type=Path, help="pel_hpc H5MD file of an iso-configurational ensemble")
    parser.add_argument("--out", type=Path, default=Path("."), help="output directory")
    defaults = IceOptions()
    for name, value in asdict(defaults).items():
        kind = float if value is None else type(value)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value,
                            choices=tuple(SHELL_TYPES) if name == "shell" else None,
                            help=HELP.get(name, f"see IceOptions (default {value})"))


def options_from(args: argparse.Namespace) -> IceOptions:
    """IceOptions from parsed arguments; non-positive values are refused with a DeckError."""
    values = {name: getattr(args, name) for name in asdict(IceOptions())}
    bad = [k for k, v in values.items() if isinstance(v, (int, float)) and v <= 0 and k != "merge_time"]
    if bad or values["merge_time"] < 0:
        raise DeckError(f"ICE options must be positive: {', '.join(bad) or 'merge_time'}")
    return replace(IceOptions(), **values)


def _read_replica(path: Path, replica: int):
    """(times [τ], unwrapped positions (F, N, 3) [σ]) of one replica (:func:`postprocess.io.read_positions`)."""
    times, _, positions = read_positions(path, replica)
    return times, positions


def open_ensemble(path: Path) -> Ensemble:
    """The replicas of a pel_hpc H5MD file (names from :mod:`pel_hpc.io.layout`), read lazily."""
    if not Path(path).is_file():
        raise InputFileError(f"no such H5MD file: {path}")
    try:
        with h5py.File(path, "r") as f:
            n = 0
            while layout.particles_path(n) in f:
                n += 1
            types = f[f"{layout.particles_path(0)}/{layout.SPECIES}"][()]
            box = f[f"{layout.box_path(0)}/{layout.EDGES}"][()]
            prov = provenance(f)
    except (OSError, KeyError) as err:
        raise CorruptFileError(f"{path}: not a pel_hpc H5MD ensemble file ({err})") from None
    return Ensemble(np.asarray(types), np.asarray(box, dtype=float), n, partial(_read_replica, Path(path)), prov)


def run_cli(argv, prog: str, description: str, require=None):
    """Parse the shared options, analyse the file and write its CSV: (args, result, csv path).

    Bad input raises a :class:`~pel_hpc.errors.PelError` (one line through :func:`postprocess.command.run`),
    as does ``require(result)`` (a figure's own condition), before anything is written.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    result = analyse(open_ensemble(args.file), options_from(args))
    if require is not None:
        require(result)
    args.out.mkdir(parents=True, exist_ok=True)
    return args, result, write_csv(result, args.out / f"{args.file.stem}_events.csv", str(args.file))


def main(argv=None) -> int:
    """``python -m postprocess.ice FILE.h5 --out DIR``: write ``<stem>_events.csv``."""
    print(run_cli(argv, "python -m postprocess.ice", __doc__.splitlines()[0])[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.ice"))
