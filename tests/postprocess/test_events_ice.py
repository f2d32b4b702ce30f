"""The whole ICE analysis (postprocess.ice) on a synthetic in-memory ensemble with planted rearrangements.

Every replica is the same vibrating simple-cubic lattice (different noise) in which two local
rearrangements (a particle and its six neighbours each displaced by 0.7 σ) are planted at known frames
and places; the analysis must return the planted τ01, τ12 and distances.
"""
import numpy as np
import pytest

from postprocess.ice import Ensemble, IceOptions, analyse, write_csv
from test_events_detect import BOX, L, lattice, tag, vibration

FRAME_DT = 0.1
N_FRAMES = 240
OPTIONS = IceOptions(window=1.0, jump=0.4, lag=4.0, msd_threshold=2.0, d_bin=0.5, rdf_frames=8)
SHELL = np.vstack([np.zeros(3), np.eye(3), -np.eye(3)]).astype(int)


def planted(r):
    """Frames and centre coordinates of the two rearrangements of replica r."""
    rng = np.random.default_rng(100 + r)
    return (rng.integers(50, 100), rng.integers(120, 180)), rng.integers(0, L, size=(2, 3))


def read(r):
    rng = np.random.default_rng(200 + r)
    x = lattice()[None] + vibration(rng, N_FRAMES, L**3)
    for frame, centre in zip(*planted(r)):
        moved = [tag(*(centre + s)) for s in SHELL]
        kicks = rng.normal(size=(len(moved), 3))
        x[frame:, moved] += 0.7 * kicks / np.linalg.norm(kicks, axis=1, keepdims=True)
    return FRAME_DT * np.arange(N_FRAMES) + 5.0, x


ENSEMBLE = Ensemble(np.zeros(L**3, dtype=np.int32), BOX, 6, read)


@pytest.fixture(scope="module")
def result():
    return analyse(ENSEMBLE, OPTIONS)


def test_frame_rule_and_shell_radius(result):
    assert (result.rule.window, result.rule.lag) == (10, 40)
    assert 1.1 < result.rule.r_shell < 1.35  # first minimum of the lattice g(r), between 1 and √2 σ


def test_planted_waiting_times_and_distances_are_recovered(result):
    frames = np.array([planted(r)[0] for r in range(ENSEMBLE.n_replicas)])
    np.testing.assert_allclose(result.pairs.tau01, FRAME_DT * frames[:, 0], atol=1e-9)
    np.testing.assert_allclose(result.pairs.tau12, FRAME_DT * (frames[:, 1] - frames[:, 0]), atol=1e-9)
    for r in range(ENSEMBLE.n_replicas):
        c1, c2 = planted(r)[1]
        d = (c2 - c1) - L * np.rint((c2 - c1) / L)
        # the first structural event may be the centre or a shell member of either rearrangement
        assert abs(result.pairs.d[r] - np.linalg.norm(d)) < 2.2
    assert result.stats.n_pairs == ENSEMBLE.n_replicas
    assert result.stats.tau01 == pytest.approx(FRAME_DT * frames[:, 0].mean())


def test_csv_names_its_source_and_holds_the_statistics(result, tmp_path):
    path = write_csv(result, tmp_path / "ice_events.csv", "synthetic.h5")
    text = path.read_text()
    assert "source: synthetic.h5" in text
    table = np.loadtxt(path, delimiter=",")
    assert table.shape == (result.stats.n.size, 8)
    assert table[:, 2].sum() == np.sum(result.pairs.d < 0.5 * L)


def test_uneven_or_single_frame_cadence_is_refused():
    from pel_hpc.errors import DeckError
    from postprocess.ice import frame_spacing

    assert frame_spacing([1.0, 1.5, 2.0], 0) == pytest.approx(0.5)
    for times in ([1.0], [0.0, 0.5, 1.5]):
        with pytest.raises(DeckError, match="replica 3"):
            frame_spacing(times, 3)
