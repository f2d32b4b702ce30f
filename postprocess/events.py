"""Local and structural events of A particles (Sect. III B and Appendix C of the paper).

Local event (the configurable detection rule, :class:`EventRule` ``window`` = W frames, ``jump`` = a [σ]):
the position of a particle averaged over the W frames before frame t and over the W frames from t on,

.. math::

    \\bar r_i^-(t) = \\frac1W\\sum_{s=t-W}^{t-1} r_i(s), \\qquad
    \\bar r_i^+(t) = \\frac1W\\sum_{s=t}^{t+W-1} r_i(s), \\qquad
    D_i(t) = |\\bar r_i^+(t) - \\bar r_i^-(t)|,

differ by D_i(t) > a.  Each contiguous run of frames with D_i > a is one event, placed at the frame
where D_i is largest; for a sudden jump at frame t0 this is t0 exactly (D_i is a triangle of half-width
W peaked there), and thermal vibration of amplitude u gives D_i ≈ u·(6/W)^½ ≪ a.  Two jumps of the
same particle less than W frames apart count once.  Only species ``event_types`` (A) are scanned:
B particles move string-like through the A matrix without changing it (Sect. III B).

Structural event (``lag`` = Δt ≈ τα in frames, ``msd_threshold`` [σ²], ``r_shell`` [σ]): for a local event
of particle c at frame t, average all positions over W frames centred on t − Δt ("before", clipped to the
start of the trajectory) and on t + Δt ("after"), take the first shell S = {c} ∪ {i of ``shell_types``
(default: all species, as in the paper's text): |r̄_i^before − r̄_c^before| < r_shell} (r_shell: first minimum
of g_AA, :func:`postprocess.structure.first_minimum`) and

.. math::

    \\mathrm{MSD} = \\sum_{i \\in S} \\min_{j:\\,\\mathrm{type}(j)=\\mathrm{type}(i)}
        \\big|\\bar r_j^{\\,after} - \\bar r_i^{\\,before}\\big|^2 ,

i.e. for every initial site of the shell the squared distance to the particle i′ of the same species that
resides closest to it afterwards (identical particles may be permuted).  The paper writes the pair as
(r_i(t+Δt) − r_i′(t−Δt))²; the relabelling is the same.  A relabelling of the shell gives MSD = 0; the event
is structural if MSD > ``msd_threshold`` (paper: 2).  Events whose "after" window runs past the trajectory
end are undetermined (MSD = NaN).  All distances are minimum-image distances in the periodic box.

Ensemble statistics (Fig. 4, Fig. 11): per replica the first two structural events (the second by another
particle and later than the first by more than ``merge_time``); τ01 = t1 − t_start, τ12 = t2 − t1, and the
distance d between the two events' pre-event positions; N(d)/N_av(d) with N_av(d) from g_AA(r)
(:func:`postprocess.structure.expected_pair_fraction`) and ⟨τ12⟩(d), with errors from the ensemble.
Positions are unwrapped, (F, N, 3) [σ], particles in global-tag order; times in τ.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError
from postprocess.structure import RadialDistribution, expected_pair_fraction


@dataclass(frozen=True)
class EventRule:
    """Parameters of local and structural event detection (frames, σ, σ²); see the module docstring."""

    window: int = 10
    jump: float = 0.4
    lag: int = 100
    msd_threshold: float = 2.0
    r_shell: float = 1.4
    shell_types: tuple = (0, 1)
    event_types: tuple = (0,)

    def __post_init__(self):
        if int(self.window) < 1 or int(self.lag) < int(self.window):
            raise DeckError(f"event window ({self.window}) must be >= 1 frame and lag ({self.lag}) >= window")
        if not (self.jump > 0.0 and self.msd_threshold > 0.0 and self.r_shell > 0.0):
            raise DeckError("event jump, msd_threshold and r_shell must be positive")


@dataclass(frozen=True)
class EventTable:
    """Local events of one replica, sorted by frame: ``frame``, ``time`` [τ], ``particle`` (tag),
    ``position`` (n, 3) pre-event averaged position [σ], ``msd`` [σ²] (NaN: undetermined) and
    ``structural`` (msd above the rule's threshold)."""

    frame: np.ndarray
    time: np.ndarray
    particle: np.ndarray
    position: np.ndarray
    msd: np.ndarray
    structural: np.ndarray


@dataclass(frozen=True)
class EventPairs:
    """First two structural events of each replica (NaN where a replica has fewer):
    ``tau01`` = t1 − t_start, ``tau12`` = t2 − t1 [τ] and their distance ``d`` [σ]."""

    tau01: np.ndarray
    tau12: np.ndarray
    d: np.ndarray


@dataclass(frozen=True)
class DistanceStatistics:
    """Fig. 4 and Fig. 11 data on distance bins ``edges`` [σ]: pair counts ``n``, ``n_av`` from g(r),
    ``ratio`` = N/N_av ± ``ratio_err``; ⟨τ12⟩(d) ``tau12`` ± ``tau12_err`` [τ]; ⟨τ01⟩ ± error [τ]."""

    edges: np.ndarray
    n: np.ndarray
    n_av: np.ndarray
    ratio: np.ndarray
    ratio_err: np.ndarray
    tau12: np.ndarray
    tau12_err: np.ndarray
    tau01: float
    tau01_err: float
    n_pairs: int


@njit(cache=True)
def _dist2(a, b, box):
    """Squared minimum-image distance between points a and b (3,) [σ²]."""
    r2 = 0.0
    for k in range(3):
        dx = a[k] - b[k]
        dx -= box[k] * np.rint(dx / box[k])
        r2 += dx * dx
    return r2


@njit(cache=True)
def _run_maxima(profile, jump):
    """Boolean mask of the frame of largest profile[:, p] in each run where profile[:, p] > jump."""
    peaks = np.zeros(profile.shape, dtype=np.bool_)
    for p in range(profile.shape[1]):
        best = -1
        for k in range(profile.shape[0]):
            if profile[k, p] > jump:
                if best < 0 or profile[k, p] > profile[best, p]:
                    best = k
            elif best >= 0:
                peaks[best, p] = True
                best = -1
        if best >= 0:
            peaks[best, p] = True
    return peaks


@njit(cache=True)
def _shell_msd(before, after, centre, types, in_shell_species, box, r_shell):
    """Permutation MSD of the first shell of ``centre`` between two (N, 3) configurations [σ²]."""
    r_shell2 = r_shell * r_shell
    total = 0.0
    for i in range(before.shape[0]):
        if i != centre and not (in_shell_species[i] and _dist2(before[i], before[centre], box) < r_shell2):
            continue
        best = np.inf
        for j in range(after.shape[0]):
            if types[j] == types[i]:
                best = min(best, _dist2(after[j], before[i], box))
        total += best
    return total


@njit(cache=True)
def _windowed_msd(csum, x0, window, start_before, start_after, centres, types, in_shell_species, box, r_shell):
    """Permutation MSD of each event between the W-frame means starting at its before/after frames.

    ``csum`` are the prefix sums of r(t) − r(0) (see :func:`_cumulative`), ``x0`` = r(0) (N, 3).
    """
    n_particles = csum.shape[1]
    before = np.empty((n_particles, 3))
    after = np.empty((n_particles, 3))
    msd = np.empty(centres.shape[0])
    for e in range(centres.shape[0]):
        a0, a1 = start_before[e], start_after[e]
        for i in range(n_particles):
            for k in range(3):
                before[i, k] = x0[i, k] + (csum[a0 + window, i, k] - csum[a0, i, k]) / window
                after[i, k] = x0[i, k] + (csum[a1 + window, i, k] - csum[a1, i, k]) / window
        msd[e] = _shell_msd(before, after, centres[e], types, in_shell_species, box, r_shell)
    return msd


def _cumulative(positions) -> np.ndarray:
    """Prefix sums C[t] = Σ_{s<t} (r(s) − r(0)), shape (F+1, N, 3): any W-frame mean in O(1)."""
    x = np.asarray(positions, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise DeckError(f"positions must have shape (frames, N, 3), got {x.shape}")
    csum = np.zeros((x.shape[0] + 1,) + x.shape[1:])
    np.cumsum(x - x[0], axis=0, out=csum[1:])
    return csum


def _local_events(csum, types, rule):
    """(frame, particle) arrays of the local events in prefix sums ``csum``, sorted by frame."""
    w = int(rule.window)
    if csum.shape[0] - 1 < 2 * w:
        raise DeckError(f"trajectory of {csum.shape[0] - 1} frames is shorter than 2 windows of {w}")
    scanned = np.flatnonzero(np.isin(types, rule.event_types))
    mean_step = (csum[2 * w:, scanned] - 2.0 * csum[w:-w, scanned] + csum[:-2 * w, scanned]) / w
    profile = np.sqrt(np.einsum("tpk,tpk->tp", mean_step, mean_step))
    k, p = np.nonzero(_run_maxima(profile, float(rule.jump)))
    order = np.argsort(k, kind="stable")
    return k[order] + w, scanned[p[order]]


def local_events(positions, types, rule: EventRule):
    """Local events of one trajectory: (frame, particle) arrays sorted by frame (module docstring).

    Parameters
    ----------
    positions : (F, N, 3) array
        Unwrapped positions [σ].
    types : (N,) int array
        Species, 0 = A.
    rule : EventRule
    """
    return _local_events(_cumulative(positions), np.asarray(types), rule)


def permutation_msd(before, after, centre, types, box, r_shell, shell_types=(0, 1)):
    """Structural-event MSD [σ²] of the first shell of particle ``centre`` (module docstring).

    ``before`` and ``after`` are (N, 3) (time-averaged) configurations [σ], ``box`` (3,) [σ].
    """
    types = np.asarray(types)
    return _shell_msd(np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64),
                      int(centre), types, np.isin(types, shell_types),
                      np.asarray(box, dtype=np.float64), float(r_shell))


def detect_events(positions, types, box, times, rule: EventRule) -> EventTable:
    """Local events of one replica, each classified as structural or not (module docstring).

    Parameters
    ----------
    positions : (F, N, 3) array
        Unwrapped positions [σ] at the frames ``times`` (F,) [τ].
    types : (N,) int array
    box : (3,) array
        Periodic box edges [σ].
    rule : EventRule
    """
    csum = _cumulative(positions)
    types = np.asarray(types)
    frame, particle = _local_events(csum, types, rule)
    w, n_frames = int(rule.window), csum.shape[0] - 1
    start_before = np.clip(frame - rule.lag - w // 2, 0, n_frames - w)
    start_after = frame + rule.lag - w // 2
    determined = start_after + w <= n_frames
    x0 = np.asarray(positions[0], dtype=np.float64)
    msd = np.full(frame.shape, np.nan)
    msd[determined] = _windowed_msd(
        csum, x0, w, start_before[determined], start_after[determined], particle[determined], types,
        np.isin(types, rule.shell_types), np.asarray(box, dtype=np.float64), float(rule.r_shell))
    position = (csum[frame, particle] - csum[frame - w, particle]) / w + x0[particle]
    return EventTable(frame, np.asarray(times)[frame], particle, position, msd,
                      np.nan_to_num(msd, nan=-1.0) > rule.msd_threshold)


def _first_two(table: EventTable, merge_time: float):
    """Indices of the first structural event and of the next one by another particle (or -1)."""
    structural = np.flatnonzero(table.structural)
    if structural.size == 0:
        return -1, -1
    first = structural[0]
    later = structural[(table.time[structural] > table.time[first] + merge_time)
                       & (table.particle[structural] != table.particle[first])]
    return first, (later[0] if later.size else -1)


def first_event_pairs(tables, box, t_start: float = 0.0, merge_time: float = 0.0) -> EventPairs:
    """τ01, τ12 and d of the first two structural events of every replica (NaN where missing).

    Structural events later than the first by ``merge_time`` [τ] or less, or by the same particle,
    are counted as part of the first rearrangement.
    """
    box = np.asarray(box, dtype=float)
    out = np.full((3, len(tables)), np.nan)
    for r, table in enumerate(tables):
        first, second = _first_two(table, merge_time)
        if first >= 0:
            out[0, r] = table.time[first] - t_start
        if second >= 0:
            out[1, r] = table.time[second] - table.time[first]
            out[2, r] = np.sqrt(_dist2(table.position[second], table.position[first], box))
    return EventPairs(out[0], out[1], out[2])


def _binned_mean(values, bins, n_bins):
    """Mean and standard error of ``values`` in each bin index 0…n_bins−1 (NaN for < 2 entries)."""
    count = np.bincount(bins, minlength=n_bins)[:n_bins].astype(float)
    total = np.bincount(bins, weights=values, minlength=n_bins)[:n_bins]
    square = np.bincount(bins, weights=values * values, minlength=n_bins)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = (square - count * mean * mean) / (count - 1.0)
        sem = np.sqrt(np.maximum(var, 0.0) / count)
    mean[count < 1] = np.nan
    sem[count < 2] = np.nan
    return mean, sem


def distance_statistics(pairs: EventPairs, rdf: RadialDistribution, d_edges, volume: float) -> DistanceStatistics:
    """N(d)/N_av(d) (Fig. 4) and ⟨τ12⟩(d), ⟨τ01⟩ (Fig. 11) with errors from the ensemble.

    .. math::

        N_{av}(d_k) = N_{pairs}\\,\\frac1V\\int_{d_k}^{d_{k+1}} 4\\pi r^2 g_{AA}(r)\\,dr,

    the count expected if the second event hit a random other A particle; N(d) has the multinomial
    error [N(1 − N/N_pairs)]^½ (with N → 1 in empty bins, so that they carry an upper error).  Only pairs with d inside ``d_edges`` (≤ r_max of ``rdf``) are binned.
    """
    edges = np.asarray(d_edges, dtype=float)
    ok = np.isfinite(pairs.d)
    d, tau12 = pairs.d[ok], pairs.tau12[ok]
    n_pairs = int(ok.sum())
    bins = np.searchsorted(edges, d, side="right") - 1
    inside = (bins >= 0) & (bins < edges.size - 1)
    n = np.bincount(bins[inside], minlength=edges.size - 1).astype(float)
    n_av = n_pairs * expected_pair_fraction(rdf, edges, volume)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = n / n_av
        ratio_err = np.sqrt(np.maximum(n, 1.0) * (1.0 - n / max(n_pairs, 1))) / n_av
    tau12_mean, tau12_err = _binned_mean(tau12[inside], bins[inside], edges.size - 1)
    tau01 = pairs.tau01[np.isfinite(pairs.tau01)]
    tau01_err = tau01.std(ddof=1) / np.sqrt(tau01.size) if tau01.size > 1 else np.nan
    return DistanceStatistics(edges, n, n_av, ratio, ratio_err, tau12_mean, tau12_err,
                              float(tau01.mean()) if tau01.size else np.nan, float(tau01_err), n_pairs)
