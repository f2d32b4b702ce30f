"""Shared statistical checks of the CLM selection tests (scipy, independent of the engine)."""
import numpy as np
from scipy import stats

ALPHA = 1e-3   # significance level of the χ² and KS tests


def assert_rate_share_and_exponential_intervals(hits, rates, intervals, watched):
    """P(i) = γ_i/R (χ² over ES with enough expected hits, the rest pooled) and the intervals between
    selections of ES ``watched`` are Exp(γ_watched) (KS), both at significance :data:`ALPHA`."""
    expected = hits.sum() * rates / rates.sum()
    big = expected > 20
    obs = np.append(hits[big], hits[~big].sum())
    exp_ = np.append(expected[big], expected[~big].sum())
    assert stats.chisquare(obs, exp_).pvalue > ALPHA
    assert stats.kstest(intervals * rates[watched], "expon").pvalue > ALPHA
