"""The one force kernel: F = −∇E, agreement with brute force, lists, cut-off refusal."""
import numpy as np
import pytest

from ka_reference import ka_brute_force
from pel_hpc.errors import DeckError, DecompositionError
from pel_hpc.md.box import check_cutoff
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.md.init import random_state
from pel_hpc.md.neighbors import MAX_ROWS, check_rows, unpack
from pel_hpc.physics.kob_andersen import composition, pair_table


def _setup(state, cutoff, truncation="shift"):
    table = pair_table(cutoff, truncation)
    dom = SerialDomain(table.rc_max, 0.3)
    s = state.copy()
    dom.setup(s)
    return s, dom, table


def _finite_difference_check(state, cutoff, truncation, n_checks=30, h=1e-6):
    s, dom, table = _setup(state, cutoff, truncation)
    compute_forces(s, dom, table)
    f = s.f.copy()
    rng = np.random.default_rng(0)
    for i, d in zip(rng.integers(0, s.n_local, n_checks), rng.integers(0, 3, n_checks)):
        x0 = s.x[i, d]
        s.x[i, d] = x0 + h
        ep, _ = compute_forces(s, dom, table)
        s.x[i, d] = x0 - h
        em, _ = compute_forces(s, dom, table)
        s.x[i, d] = x0
        assert -(ep - em) / (2 * h) == pytest.approx(f[i, d], rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("truncation", ["shift", "force_shift"])
def test_force_is_minus_gradient_n65(liquid65, truncation):
    _finite_difference_check(liquid65, 1.8, truncation)


def test_force_is_minus_gradient_n1000(random1000):
    _finite_difference_check(random1000, 2.5, "shift")


@pytest.mark.parametrize("fixture,cutoff", [("liquid65", 1.8), ("random1000", 2.5), ("liquid500", 2.5)])
@pytest.mark.parametrize("truncation", ["shift", "force_shift"])
def test_list_forces_equal_brute_force(request, fixture, cutoff, truncation):
    s, dom, table = _setup(request.getfixturevalue(fixture), cutoff, truncation)
    epot, vir = compute_forces(s, dom, table)
    n = s.n_local
    e_ref, f_ref, w_ref = ka_brute_force(s.x[:n], s.typ[:n], s.box, cutoff, truncation == "force_shift")
    assert np.max(np.abs(s.f[:n] - f_ref)) <= 1e-12 * np.max(np.abs(f_ref))
    assert epot == pytest.approx(e_ref, rel=1e-12)
    assert vir == pytest.approx(w_ref, rel=1e-12)


def test_tiny_box_lists_every_image_within_list_radius(liquid65):
    """N = 65: r_c + skin > L/2, so some partners appear with two images; none is missed."""
    s, dom, table = _setup(liquid65, 1.8)
    assert dom.uses_all_pairs and dom.rlist > s.box[0] / 2
    n, multi = s.n_local, 0
    images = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) * s.box
    for i in range(n):
        j, _, _ = unpack(dom.nlist[i, : dom.count[i]])
        multi += len(j) - len(np.unique(j))
        r2 = ((s.x[i] - s.x[:n, None, :] - images[None, :, :]) ** 2).sum(-1)  # brute force, 27 images
        rl = table.rc[2 * s.typ[i] + s.typ[:n]] + 0.3  # each pair type's cut-off plus the skin
        assert dom.count[i] == np.count_nonzero((r2 < rl[:, None] ** 2) & (r2 > 0))
    assert multi > 0  # multi-image entries exist


@pytest.mark.parametrize("n", [1000, 600, 1400])  # 6, 5 and 7 cells per edge: blocks of 2, 1, and 2 + 1 along z
def test_cell_list_equals_all_pairs_list(random1000, n):
    state = random1000 if n == 1000 else random_state(n, 1.2, 0.8, n)
    s, dom, table = _setup(state, 2.5)
    assert not dom.uses_all_pairs and dom.grid[0][2] == {1000: 6, 600: 5, 1400: 7}[n]
    cells = {(int(s.tag[i]), int(s.tag[j]), int(k)) for i in range(s.n_local)
             for j, k, _ in zip(*unpack(dom.nlist[i, : dom.count[i]]))}
    ap = SerialDomain(table.rc_max, 0.3)
    ap.grid = None
    ap.shifts = dom.shifts
    ap.rebuild(s)
    pairs = {(int(s.tag[i]), int(s.tag[j]), int(k)) for i in range(s.n_local)
             for j, k, _ in zip(*unpack(ap.nlist[i, : ap.count[i]]))}
    assert cells == pairs and len(pairs) > 50 * s.n_local


def test_pair_type_in_entries_matches_species(liquid65):
    s, dom, _ = _setup(liquid65, 1.8)
    for i in range(s.n_local):
        j, _, t = unpack(dom.nlist[i, : dom.count[i]])
        assert np.array_equal(t, 2 * s.typ[i] + s.typ[j])


@pytest.mark.parametrize("fixture, cutoff", [("liquid65", 1.8), ("random1000", 2.5)])
def test_rows_list_a_partners_before_b_partners(request, fixture, cutoff):
    """The force kernel evaluates a row's A block and B block with constant parameters."""
    s, dom, _ = _setup(request.getfixturevalue(fixture), cutoff)
    n_switches = 0
    for i in range(s.n_local):
        t_j = unpack(dom.nlist[i, : dom.count[i]])[2] & 1
        assert np.all(np.diff(t_j) >= 0)
        n_switches += int(np.any(t_j == 0) and np.any(t_j == 1))
    assert n_switches > 0.9 * s.n_local


def test_refuses_more_rows_than_an_entry_can_index():
    check_rows(MAX_ROWS - 1)
    with pytest.raises(DecompositionError, match="2\\^24"):
        check_rows(MAX_ROWS)


def test_refuses_cutoff_beyond_half_box():
    state = random_state(65)
    with pytest.raises(DeckError, match="system.cutoff"):
        check_cutoff(pair_table(1.9).rc_max, state.box)
    with pytest.raises(DeckError, match="system.cutoff"):
        SerialDomain(pair_table(2.5).rc_max, 0.3).setup(state)


def test_composition_rounding():
    assert composition(65) == (52, 13)
    assert composition(8320) == (6656, 1664)
    assert composition(520) == (416, 104)


@pytest.mark.parametrize("truncation", ["shift", "force_shift"])
def test_tiny_box_minimum_image_forces_equal_brute_force(liquid65, truncation):
    """The list-free kernel of the compiled small-system loop (each pair once, minimum image)."""
    from pel_hpc.md.forces import pair_forces_min_image

    s, table = liquid65.copy(), pair_table(1.8, truncation)
    n = s.n_local
    s.x[:n] += s.box * np.random.default_rng(3).integers(-2, 3, size=(n, 3))  # any image: minimum image
    f = np.zeros((n, 3))
    epot, vir = pair_forces_min_image(s.x, n, s.typ, s.box, table.eps4, table.sig2, table.rc2, table.ushift,
                                      table.fc, table.rc, table.force_shift, f)
    e_ref, f_ref, w_ref = ka_brute_force(s.x[:n], s.typ[:n], s.box, 1.8, truncation == "force_shift")
    assert np.max(np.abs(f - f_ref)) <= 1e-12 * np.max(np.abs(f_ref))
    assert epot == pytest.approx(e_ref, rel=1e-12) and vir == pytest.approx(w_ref, rel=1e-12)
