"""ES lattice of the CLM: coupling neighbours and N_eff (Sect. III D, IV B), against brute force."""
import itertools

import numpy as np
import pytest

from pel_hpc.errors import DeckError
from postprocess.clm.lattice import make_lattice


def _brute_neighbours(shape, r_max, n):
    """All sites j != i with minimum-image distance < r_max, weight r^-n (or nn with weight 1)."""
    shape = np.array(shape)
    out = {}
    for c in itertools.product(*[range(s) for s in shape]):
        d = np.array(c)
        d = np.where(d > shape / 2, d - shape, d)
        d = np.minimum(np.abs(d), shape - np.abs(d))
        r = float(np.sqrt(np.sum(d * d)))
        if r == 0:
            continue
        if r_max is None and r == 1.0 or r_max is not None and r < r_max:
            out[int(np.ravel_multi_index(c, tuple(shape)))] = 1.0 if r_max is None else r ** -n
    return out


@pytest.mark.parametrize("shape,r_max", [((3, 3, 3), None), ((5, 4), None), ((6, 6, 6), 2.0),
                                         ((7, 7, 7), 3.5), ((2, 2, 2), None), ((4, 4), 5.0)])
def test_coupling_matches_brute_force(shape, r_max):
    lat = make_lattice(shape, r_max, exponent=3.0)
    ref = _brute_neighbours(shape, r_max, 3.0)
    nb = lat.neighbours[lat.offsets[0]:lat.offsets[1]]
    w = lat.weights[lat.offsets[0]:lat.offsets[1]]
    assert dict(zip(nb.tolist(), w.tolist())) == pytest.approx(ref)
    assert len(set(nb.tolist())) == nb.size                       # each ES once, even for L = 2
    assert lat.n_eff == pytest.approx(sum(ref.values()))
    assert np.all(np.diff(lat.offsets) == nb.size)                 # translation invariant


def test_nearest_neighbours_give_n_eff_2d():
    for d in (1, 2, 3, 4):
        assert make_lattice((5,) * d).n_eff == 2 * d
    assert make_lattice((3, 3, 3)).q_eff(0.1) == pytest.approx(0.6)


def test_bad_lattice_raises():
    with pytest.raises(DeckError, match="shape"):
        make_lattice((3, 0))
    with pytest.raises(DeckError, match="r_max"):
        make_lattice((3, 3), r_max=0.5)
