r"""The three-system example of Sect. III B of the paper: exact simulation and closed forms.

Three systems (left, middle, right) relax with rate Γ (units: Γ = 1).  At t = 0 the left one
relaxes; coupling then gives the middle one a rate Γ_m drawn from p(Γ) (e.g. 2Γ or 4Γ with
probability ½ each) while the right one keeps Γ_r = Γ.  Only the middle and right systems are
followed.  Two definitions of "the next relaxation process" give different numbers:

**Definition "first"** (only the first event in m or r after the initial one; the one we adopt for
causality, as in Appendix C's τ_1,2).  For a realisation with Γ_m = g the first event is at
T ~ Exp(g+1), in m with probability g/(g+1), independently of T, so

.. math:: \langle N_m\rangle = \langle\tfrac{g}{g+1}\rangle,\quad \langle N_r\rangle = \langle\tfrac{1}{g+1}\rangle,\quad
          \langle\tau^{(m)}_{12}\rangle = \frac{\langle g/(g+1)^2\rangle}{\langle N_m\rangle},\quad
          \langle\tau^{(r)}_{12}\rangle = \frac{\langle 1/(g+1)^2\rangle}{\langle N_r\rangle}.

For g ∈ {2, 4}: ⟨N_m⟩/⟨N_r⟩ = (11/15)/(4/15) = 11/4 and ⟨τ^(m)⟩/⟨τ^(r)⟩ = (86/330)/(34/120) ≈ 0.920.

**Definition "rate-weighted"** (the paper's numbers: every process of m or r during a long
observation window, τ_12 = time since the previous process in m ∪ r).  Per realisation m fires at
rate g, r at rate 1 and every gap is Exp(g+1), so

.. math:: \frac{\langle N_m\rangle}{\langle N_r\rangle} = \langle g\rangle,\quad
          \langle\tau^{(m)}_{12}\rangle = \frac{\langle g/(g+1)\rangle}{\langle g\rangle},\quad
          \langle\tau^{(r)}_{12}\rangle = \langle\tfrac{1}{g+1}\rangle ,

giving 3 and (11/45)/(4/15) = 11/12 for g ∈ {2, 4} — the paper's values.  For both definitions the
τ ratio is 1 when p(Γ) is a single value and falls below 1 as p(Γ) widens.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numba import njit

from pel_hpc.errors import DeckError

from .observables import jackknife
from .rng import exponential, seed_state, uniform

FIRST, RATE_WEIGHTED = "first", "rate_weighted"


@dataclass(frozen=True)
class ThreeSystemRatios:
    """⟨N_m⟩/⟨N_r⟩ and ⟨τ_12^(m)⟩/⟨τ_12^(r)⟩ (with errors for simulations, 0 for exact values)."""

    n_ratio: float
    n_ratio_err: float
    tau_ratio: float
    tau_ratio_err: float


def _check(rates, probs):
    rates, probs = list(rates), list(probs)
    if len(rates) != len(probs) or not rates or min(rates) <= 0 or min(probs) < 0 or sum(probs) == 0:
        raise DeckError("p(Γ_m) needs equal-length lists of positive rates and non-negative probabilities")
    total = sum(probs)
    exact = lambda x: Fraction(x) if isinstance(x, (int, Fraction)) else x  # noqa: E731
    return [exact(g) for g in rates], [exact(w) / total for w in probs]


def exact_ratios(rates, probs, definition: str = FIRST):
    """Closed-form (⟨N_m⟩/⟨N_r⟩, ⟨τ^(m)⟩/⟨τ^(r)⟩); exact rationals for Fraction/int inputs."""
    rates, probs = _check(rates, probs)
    avg = lambda f: sum(w * f(g) for g, w in zip(rates, probs))  # noqa: E731
    if definition == FIRST:
        n_m, n_r = avg(lambda g: g / (g + 1)), avg(lambda g: Fraction(1) / (g + 1))
        t_m, t_r = avg(lambda g: g / (g + 1) ** 2) / n_m, avg(lambda g: Fraction(1) / (g + 1) ** 2) / n_r
    elif definition == RATE_WEIGHTED:
        n_m, n_r = avg(lambda g: g), Fraction(1)
        t_m, t_r = avg(lambda g: g / (g + 1)) / n_m, avg(lambda g: Fraction(1) / (g + 1))
    else:
        raise DeckError(f"definition must be {FIRST!r} or {RATE_WEIGHTED!r}, got {definition!r}")
    return n_m / n_r, t_m / t_r


@njit(cache=True)
def _simulate(rng, cum, rates, n_real, window, n_batches, out):
    """Per batch: (N_m, N_r, Στ over m events, Στ over r events); window = 0 means definition "first"."""
    per = n_real // n_batches
    for b in range(n_batches):
        for _ in range(per):
            u = uniform(rng)
            k = 0
            while k < cum.size - 1 and u >= cum[k]:
                k += 1
            g = rates[k]
            t = 0.0
            while True:
                gap = exponential(rng) / (g + 1.0)
                t += gap
                if window > 0.0 and t > window:
                    break
                m = 0 if uniform(rng) * (g + 1.0) < g else 1
                out[b, m] += 1.0
                out[b, 2 + m] += gap
                if window <= 0.0:
                    break


def simulate_ratios(rates, probs, definition: str = FIRST, n_realisations: int = 1_000_000,
                    seed: int = 1, window: float = 50.0, n_batches: int = 20) -> ThreeSystemRatios:
    """Simulate the example event by event (exact Poisson clocks) and return the ratios with errors.

    ``window`` is the observation time (units 1/Γ) of the rate-weighted definition.
    """
    rates, probs = _check(rates, probs)
    if definition not in (FIRST, RATE_WEIGHTED):
        raise DeckError(f"definition must be {FIRST!r} or {RATE_WEIGHTED!r}, got {definition!r}")
    out = np.zeros((n_batches, 4))
    _simulate(seed_state(seed), np.cumsum(np.array(probs, float)), np.array(rates, float),
              n_realisations, window if definition == RATE_WEIGHTED else 0.0, n_batches, out)
    n = jackknife(out, lambda s: s[0] / s[1])
    tau = jackknife(out, lambda s: (s[2] / s[0]) / (s[3] / s[1]))
    return ThreeSystemRatios(n[0], n[1], tau[0], tau[1])
