r"""Orchestration of one CLM run: configuration, state, the event kernel, and the raw tallies.

``CLMSimulation(config).run() -> CLMTallies`` builds the ES lattice (:mod:`.lattice`), the landing
tables (:mod:`.processes`), draws the stationary initial state and lets
:func:`.composition.run_events` (or :func:`.kinetics.run_events_heap`) advance it to ``t_end``.
Times are scaled by the analytic q = 0 CTRW values of :mod:`postprocess.ctrw`: the run records
``duration``·⟨τ⟩ after a warm-up of ``warmup``·τα(q=0).  The observables (⟨τⁿ⟩, D, τα, S0(t),
KWW, SE) are computed from the tallies by :mod:`.observables`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pel_hpc.errors import DeckError
from postprocess.ctrw import predicted_mean_tau, predicted_tau_alpha
from postprocess.landscape import TABLE_I, PELParameters

from . import kinetics as kin
from .composition import RING_SHAPE, run_events
from .heap import BLOCK, build_blocks, build_heap
from .intrinsics import aligned_zeros
from .lattice import make_lattice
from .links import geometric_skip, link_patterns
from .log_bins import log_bin_table
from .processes import COUPLING_NAMES, build_tables, gaussian_coefficients
from .rate_bins import E, LG, RateBins
from .rng import new_cache, seed_state

ENGINES = ("composition", "heap", "scan")
AUTO_SCAN_MAX_ES, AUTO_HEAP_MAX_ES = 64, 256
FINE_BINS_MIN_ES = 100_000      # from here on 4 rate bins per octave instead of 2 (measured, see _rate_bins)


@dataclass(frozen=True)
class CLMConfig:
    """One CLM run (Sect. III D / IV of the paper).

    Attributes
    ----------
    temperature : float   T [ε/k_B].
    q : float             coupling constant (probability of a passive process per unit weight).
    shape : tuple         ES lattice shape (paper: (3, 3, 3)).
    r_max : float|None    coupling range [lattice units] (None: nearest neighbours, N_eff = 2d).
    exponent : float      n of p(r) ∝ r^{−n}.
    coupling : str        "boltzmann" (eq. (5) with π = p_eq), "gaussian" or "energy_dependent".
    gauss_step : float    s of the Gaussian coupling [ε].
    gauss_redraw : bool   Gaussian coupling below e_cut: redraw (approximate) instead of reject (exact).
    seed : int            random seed (same seed, same result).
    duration : float      recorded time in units of the q = 0 ⟨τ⟩ (≈ active events per ES).
    warmup : float        discarded time in units of the q = 0 τα.
    n_blocks : int        time blocks for error bars.
    pel : PELParameters   PEL parameters (Table I by default).
    """

    temperature: float
    q: float = 0.0
    shape: tuple = (3, 3, 3)
    r_max: float | None = None
    exponent: float = 3.0
    coupling: str = "boltzmann"
    gauss_step: float = 1.0
    gauss_redraw: bool = False
    seed: int = 1
    duration: float = 1.0e4
    warmup: float = 0.0
    n_blocks: int = 16
    pel: PELParameters = field(default=TABLE_I)

    def __post_init__(self):
        if self.coupling not in COUPLING_NAMES:
            raise DeckError(f"coupling must be one of {sorted(COUPLING_NAMES)}, got {self.coupling!r}")
        if not 0.0 <= self.q <= 1.0:
            raise DeckError(f"coupling q must lie in [0, 1], got {self.q}")
        if not self.duration > 0 or self.warmup < 0 or self.n_blocks < 2:
            raise DeckError("CLM duration must be > 0, warmup >= 0 and n_blocks >= 2")


@dataclass(frozen=True)
class CLMTallies:
    """Raw tallies of a run; ``moments[b] = (n, Στ, Στ², Στ³)`` per block; see :mod:`.observables`."""

    config: CLMConfig
    moments: np.ndarray          # (n_blocks, 4)
    tau_hist: np.ndarray         # (n_tbins + 2, 2): count and Στ per log-τ bin (0: below, last: above)
    log_tau_edges: np.ndarray    # (n_tbins + 1,) ln of the bin edges [ln τ]
    energy_hist: np.ndarray      # (n_blocks, n_ebins): ES energies counted in snapshots at even times
    energy_edges: np.ndarray     # (n_ebins + 1,) [ε]
    n_active: int
    n_passive: int
    mean_tau_0: float            # analytic q = 0 ⟨τ⟩ [τ]
    tau_alpha_0: float           # analytic q = 0 τα [τ]
    n_eff: float
    block_time: float            # recorded time per block [τ]


class CLMSimulation:
    """Build and run one CLM configuration: ``CLMSimulation(cfg).run() -> CLMTallies``.

    ``engine`` selects the next active process (all exact, see :mod:`.kinetics`): "composition"
    (composition–rejection over rate bins, O(1)), "heap" (next-reaction method, O(log N)), "scan"
    (next-reaction method with a blocked scan for the earliest firing time, O(N); bitwise the same
    trajectory as "heap"), or "auto": scan up to ``AUTO_SCAN_MAX_ES`` ES (the paper's 27), the
    heap up to ``AUTO_HEAP_MAX_ES``, composition–rejection above.
    """

    N_TBINS_PER_DECADE, N_EBINS = 20, 120

    def __init__(self, config: CLMConfig, n_cells: int = 8192, engine: str = "auto"):
        if engine not in ENGINES + ("auto",):
            raise DeckError(f"CLM engine must be 'auto' or one of {ENGINES}, got {engine!r}")
        beta = 1.0 / config.temperature
        self.lattice = make_lattice(config.shape, config.r_max, config.exponent)
        if engine == "auto":        # measured: scan, then heap are faster on small lattices
            n = self.lattice.n_es
            engine = "scan" if n <= AUTO_SCAN_MAX_ES else "heap" if n <= AUTO_HEAP_MAX_ES else "composition"
        self.config, self.engine = config, engine
        if np.any(np.diff(self.lattice.offsets) != self.lattice.offsets[1]):
            raise DeckError("CLM kernels need the same number of links for every ES")
        # the largest link weight, once: a max over the N·L weights (3 ms on 10^6 ES) per run() was
        # 1.5 ns per event of a 2·10^6-event benchmark run
        self._w_max = float(self.lattice.weights.max(initial=0.0))
        if config.q * self._w_max > 1.0:
            raise DeckError(f"q·w_ij exceeds 1 for q = {config.q} (r_max = {config.r_max})")
        self.tables = build_tables(config.temperature, config.pel, n_cells)
        self.mean_tau_0 = float(predicted_mean_tau(beta, config.pel))
        self.tau_alpha_0 = float(predicted_tau_alpha(beta, config.pel))
        self.rng, self.cache = seed_state(config.seed), new_cache()
        self.draws, self.dpos = np.zeros((3, 128, 2)), np.full(3, 128, np.int64)    # buffered landing states
        n, self._n_links = self.lattice.n_es, int(self.lattice.offsets[1] - self.lattice.offsets[0])
        self.rec, t_next = aligned_zeros((n, 4)), np.empty(n)
        self._tab = np.array([self.tables.e_lo, self.tables.h, self.tables.sigma_gamma,
                              self.tables.log_rate_max])
        kin.initial_state(self.rng, self.cache, self.tables.passive_prob, self.tables.passive_alias,
                          self.tables.log_rate, self._tab, self.rec, t_next)
        if engine == "composition":
            self.bins = self._rate_bins()
        else:
            self.heap, self.pos, self.hkey = self._next_reaction_keys(t_next)
        self.n_snapshots = config.n_blocks * max(1, min(1024, 2**20 // n))
        self.t_now = 0.0

    @property
    def e(self) -> np.ndarray:
        """Current MB energies of the ES [ε] (a view)."""
        return self.rec[:, E]

    @property
    def lg(self) -> np.ndarray:
        """Current ln γ of the ES [ln(1/τ)] (a view)."""
        return self.rec[:, LG]

    def _next_reaction_keys(self, t_next):
        """(heap, pos, hkey) of the next-reaction engines (:mod:`.heap`): the 4-ary heap, or for
        "scan" the blocked scan (empty heap; hkey = (firing times by ES, +inf padded to whole
        blocks | block minima), pos = the ES of each block minimum)."""
        n = t_next.size
        if self.engine == "heap":
            heap, pos, hkey = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n)
            build_heap(t_next, heap, hkey, pos)
            return heap, pos, hkey
        n_blk = -(-n // BLOCK)
        hkey, pos = np.full(n_blk * (BLOCK + 1), np.inf), np.empty(n_blk, np.int32)
        hkey[:n] = t_next
        build_blocks(hkey[:n_blk * BLOCK], hkey[n_blk * BLOCK:], pos)
        return np.empty(0, np.int32), pos, hkey

    def _rate_bins(self) -> RateBins:
        """Composition–rejection bins covering every ln γ the tables and eq. (2) can produce (±9 σ_γ).

        Large lattices take 4 bins per octave (10^6 ES, T = 0.6: 1.10 instead of 1.20 trials per
        event, 548 instead of 564 instructions); on small ones the extra table rebuilds and slack rows
        of the sparser bins cost more than the rejections saved."""
        tb = self.tables
        reach = 0.5 * tb.sigma_gamma**2 + 9.0 * tb.sigma_gamma + 1.0
        links = self._n_links
        bins = RateBins(float(tb.log_rate.min()) - reach, tb.log_rate_max + reach, margin=2 + links,
                        rng=seed_state(self.config.seed, stream=2), ring_shape=RING_SHAPE,
                        bins_per_octave=4 if self.lattice.n_es >= FINE_BINS_MIN_ES else 2)
        bins.build(self.rec)
        return bins

    def _parameters(self, t0, t1):
        cfg, tb = self.config, self.tables
        a, b = gaussian_coefficients(cfg.gauss_step, tb) if cfg.coupling == "gaussian" else (1.0, 0.0)
        lo_tau = math.log(self.mean_tau_0) - 6.0 * math.log(10.0)
        dlog = math.log(10.0) / self.N_TBINS_PER_DECADE
        par = np.zeros(kin.N_PAR)
        par[[kin.P_Q, kin.P_A, kin.P_B, kin.P_S, kin.P_ECUT]] = cfg.q, a, b, cfg.gauss_step, tb.e_cut
        par[[kin.P_T0, kin.P_T1, kin.P_TBLOCK]] = t0, t1, (t1 - t0) / cfg.n_blocks
        par[[kin.P_LOGTMIN, kin.P_DLOGT]] = lo_tau, dlog
        par[[kin.P_EHLO, kin.P_EHW]] = tb.e_lo, (tb.e_hi - tb.e_lo) / self.N_EBINS
        par[[kin.P_INV_TBLOCK, kin.P_INV_EHW]] = 1.0 / par[[kin.P_TBLOCK, kin.P_EHW]]
        par[[kin.P_INV_LOG1MQ, kin.P_NOLINK]] = geometric_skip(cfg.q * self._w_max, self._n_links)
        return par

    def _link_tables(self):
        """(link_accept, patterns) of :mod:`.links`: pattern tables of p_k = q w_k when L is small
        (then no thinning by w: link_accept empty), else w_k/max(w) for geometric skipping."""
        w = self.lattice.weights
        patterns = link_patterns(self.config.q * w[:self._n_links])
        if patterns[0].size or not w.size:
            return np.empty(0), patterns
        return w / self._w_max, patterns

    def _advance(self, args):
        """One call of the event kernel of this engine (``args``: the arguments after the selection
        structure); grows the rate bins on an overflow; returns the kernel's status."""
        state = (self.rng, self.cache, self.draws, self.dpos, self.rec)
        if self.engine != "composition":
            return kin.run_events_heap(*state, self.heap, self.hkey, self.pos, *args)
        b = self.bins
        status = run_events(*state, b.pool, b.bint, b.bflt, b.table, b.table_work, b.bpar, b.margin, b.rng,
                            b.ring, b.ring_state, *args)
        if status == kin.OVERFLOW:
            b.grow(self.rec)
        return status

    def run(self, max_events: int = 2**62) -> CLMTallies:
        """Warm up, then record ``duration``·⟨τ⟩_0; returns the tallies of this window.

        The state stays advanced: a second call continues the same trajectory (another warm-up and
        recording window), so calls can be chained for more statistics.
        """
        cfg, tb, lat = self.config, self.tables, self.lattice
        t0 = self.t_now + cfg.warmup * self.tau_alpha_0
        t1 = t0 + cfg.duration * self.mean_tau_0
        par = self._parameters(t0, t1)
        n_tbins = 12 * self.N_TBINS_PER_DECADE
        moments, thist = np.zeros((cfg.n_blocks, 4)), np.zeros((n_tbins + 2, 2))
        ehist, counts = np.zeros((cfg.n_blocks, self.N_EBINS)), np.zeros(2, np.int64)
        link_accept, patterns = self._link_tables()
        lbins = log_bin_table(par[kin.P_LOGTMIN], par[kin.P_DLOGT], n_tbins + 1)
        clock, istate = np.array([self.t_now]), np.zeros(2, np.int64)
        common = (tb.log_rate, tb.active_prob, tb.active_alias, tb.passive_prob, tb.passive_alias,
                  self._tab, COUPLING_NAMES[cfg.coupling], cfg.gauss_redraw, par, clock, istate)
        margin = 2 + self._n_links
        tallies = (moments, thist, lbins, ehist, self.n_snapshots, counts, np.empty(margin, np.int64),
                   np.empty(kin.work_size(margin)))
        status = kin.OVERFLOW
        while status == kin.OVERFLOW:
            status = self._advance((lat.offsets, lat.neighbours, link_accept, patterns, *common,
                                    max_events - int(counts[0]), *tallies))
        if status != kin.DONE:
            raise DeckError(f"CLM run stopped at t = {clock[0]:.4g} < t_end = {t1:.4g} after max_events = {max_events}")
        self.t_now = t1
        return CLMTallies(cfg, moments, thist,
                          par[kin.P_LOGTMIN] + par[kin.P_DLOGT] * np.arange(n_tbins + 1), ehist,
                          tb.e_lo + par[kin.P_EHW] * np.arange(self.N_EBINS + 1),
                          int(counts[0]), int(counts[1]), self.mean_tau_0, self.tau_alpha_0,
                          lat.n_eff, float(par[kin.P_TBLOCK]))
