"""Local and structural event detection on synthetic trajectories (issue 7, App. C of the paper).

The trajectories are a simple-cubic lattice (spacing 1 σ, first shell of 6 at 1 σ, second at √2 σ)
with Ornstein–Uhlenbeck thermal vibration; jumps are planted at known frames and particles.
"""
import numpy as np
import pytest
from scipy.signal import lfilter

from postprocess.events import EventRule, detect_events, local_events, permutation_msd

L = 8
BOX = np.full(3, float(L))
RULE = EventRule(window=10, jump=0.4, lag=40, msd_threshold=2.0, r_shell=1.2)


def lattice():
    """(L³, 3) simple-cubic sites [σ] in tag order i = x + L·y + L²·z."""
    g = np.arange(L, dtype=float)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)


def tag(x, y, z):
    return (x % L) + L * (y % L) + L * L * (z % L)


def vibration(rng, n_frames, n, amplitude=0.06, memory=0.6):
    """OU noise (F, n, 3) of stationary standard deviation ``amplitude`` [σ] per component (Lindemann-like
    total 0.1 σ) and correlation ``memory`` per frame."""
    white = rng.normal(size=(n_frames, n, 3)) * amplitude * np.sqrt(1.0 - memory**2)
    return lfilter([1.0], [1.0, -memory], white, axis=0)


def vibrating(seed, n_frames=300):
    rng = np.random.default_rng(seed)
    sites = lattice()
    types = np.zeros(len(sites), dtype=np.int32)
    types[rng.choice(len(sites), size=len(sites) // 5, replace=False)] = 1
    return rng, sites[None] + vibration(rng, n_frames, len(sites)), types


def test_pure_vibration_has_no_events():
    _, x, types = vibrating(1, n_frames=400)
    frame, particle = local_events(x, types, RULE)
    assert frame.size == 0 and particle.size == 0


def planted_trajectory():
    """Vibrating lattice with a shell relabelling, a shell rearrangement, a B jump and a late jump."""
    rng, x, types = vibrating(2, n_frames=300)
    types[:] = 0
    swap_a, swap_b = tag(2, 2, 2), tag(3, 2, 2)  # relabelling: two neighbours exchange sites at t=80
    step = lattice()[swap_b] - lattice()[swap_a]
    x[80:, swap_a] += step
    x[80:, swap_b] -= step
    centre = tag(6, 5, 5)  # rearrangement: centre and its 6 neighbours move 0.7 σ at t=150
    shell = [centre] + [tag(6 + dx, 5 + dy, 5 + dz) for dx, dy, dz in np.vstack([np.eye(3), -np.eye(3)]).astype(int)]
    kicks = rng.normal(size=(len(shell), 3))
    x[150:, shell] += 0.7 * kicks / np.linalg.norm(kicks, axis=1, keepdims=True)
    b_particle = tag(1, 6, 1)  # a B particle jumps at t=120: not scanned
    types[b_particle] = 1
    x[120:, b_particle] += np.array([0.8, 0.0, 0.0])
    late = tag(4, 0, 6)  # a jump too late for the t + lag window: undetermined
    x[270:, late] += np.array([0.0, 0.6, 0.0])
    planted = {(80, swap_a), (80, swap_b), (270, late)} | {(150, i) for i in shell}
    return x, types, planted, (swap_a, swap_b), centre, late


def test_detector_finds_planted_jumps_at_their_frames():
    x, types, planted, *_ = planted_trajectory()
    frame, particle = local_events(x, types, RULE)
    assert set(zip(frame.tolist(), particle.tolist())) == planted
    assert np.all(np.diff(frame) >= 0)


def test_structural_classification_of_planted_events():
    x, types, _, swapped, centre, late = planted_trajectory()
    times = 0.05 * np.arange(len(x))
    table = detect_events(x, types, BOX, times, RULE)
    msd = dict(zip(table.particle.tolist(), table.msd.tolist()))
    # relabelling of the same shell: only the noise of W-frame means remains, on average
    # 7 sites x 3 components x 2 x 0.06² (1 + 0.6)/(1 − 0.6)/W = 0.12 σ² (the nearest-particle min lowers it)
    for i in swapped:
        assert msd[i] < 0.4
    assert msd[centre] > 2.0
    assert np.isnan(msd[late])
    assert table.structural[table.particle == centre][0] and not table.structural[table.particle == late][0]
    np.testing.assert_allclose(table.time, times[table.frame])
    # event position: the pre-jump mean of the tagged particle, on its lattice site within the noise
    np.testing.assert_allclose(table.position, lattice()[table.particle], atol=0.15)


def random_liquid(seed, n=150, edge=5.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, edge, size=(n, 3))
    types = (rng.uniform(size=n) < 0.2).astype(np.int32)
    return rng, x, types, np.full(3, edge)


def shell_of(x, centre, box, r_shell, types, shell_types=(0, 1)):
    d = x - x[centre]
    d -= box * np.rint(d / box)
    inside = (np.linalg.norm(d, axis=1) < r_shell) & np.isin(types, shell_types)
    inside[centre] = True
    return np.flatnonzero(inside)


def brute_force_msd(before, after, centre, types, box, r_shell, shell_types=(0, 1)):
    """Independent reference: full minimum-image distance matrix, min over same-type particles."""
    shell = shell_of(before, centre, box, r_shell, types, shell_types)
    d = after[None, :, :] - before[shell, None, :]
    d -= box * np.rint(d / box)
    r2 = np.where(types[None, :] == types[shell, None], np.sum(d * d, axis=2), np.inf)
    return r2.min(axis=1).sum()


def test_permutation_msd_is_zero_for_a_relabelled_shell():
    rng, x, types, box = random_liquid(3)
    centre = next(c for c in np.flatnonzero(types == 0)  # a shell holding at least two A and two B sites
                  if np.bincount(types[shell_of(x, c, box, 1.4, types)], minlength=2).min() >= 2)
    shell = shell_of(x, centre, box, 1.4, types)
    after = x.copy()
    for species in (0, 1):  # identical particles exchange their sites
        same = shell[types[shell] == species]
        after[same] = x[rng.permutation(same)]
    after += box * rng.integers(-2, 3, size=after.shape)  # unwrapped images change nothing
    assert permutation_msd(x, after, centre, types, box, 1.4) == pytest.approx(0.0, abs=1e-24)
    assert np.sum((after - x)[shell] ** 2) > 1.0  # a label-by-label MSD would not be zero


def test_permutation_msd_above_threshold_for_a_rearranged_shell():
    rng, x, types, box = random_liquid(4)
    centre = int(np.flatnonzero(types == 0)[0])
    shell = shell_of(x, centre, box, 1.4, types)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    rot = c * np.eye(3) + s * np.cross(np.eye(3), axis) + (1 - c) * np.outer(axis, axis)
    after = x.copy()
    after[shell] = x[centre] + (x[shell] - x[centre]) @ rot.T  # shell turned by 60° about the centre
    msd = permutation_msd(x, after, centre, types, box, 1.4)
    assert msd > 2.0
    assert msd == pytest.approx(brute_force_msd(x, after, centre, types, box, 1.4), rel=1e-12)


def test_permutation_msd_matches_brute_force_on_random_configurations():
    rng, x, types, box = random_liquid(5)
    after = x + rng.normal(scale=0.4, size=x.shape)
    for centre in np.flatnonzero(types == 0)[:20]:
        for shell_types in [(0, 1), (0,)]:  # all species in the shell (default) or A only
            assert permutation_msd(x, after, centre, types, box, 1.3, shell_types) == pytest.approx(
                brute_force_msd(x, after, centre, types, box, 1.3, shell_types), rel=1e-12)
