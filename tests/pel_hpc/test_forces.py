"""The one force kernel: F = −∇E, agreement with brute force, lists, cut-off refusal."""
import numpy as np
import pytest

from ka_reference import ka_brute_force
from pel_hpc.errors import DeckError, DecompositionError
from pel_hpc.md.box import check_cutoff
from pel_hpc.md.domain import SerialDomain
from pel_hpc.md.forces import compute_forces
from pel_hpc.md.init import random_state
from pel_hpc.md.neighbors import MAX_ROWS, check_rows
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.parallel.domain import DecomposedDomain
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
        assert not dom.refresh(s)  # ghost images follow their owner (no rebuild: rows stay put)
        ep, _ = compute_forces(s, dom, table)
        s.x[i, d] = x0 - h
        dom.refresh(s)
        em, _ = compute_forces(s, dom, table)
        s.x[i, d] = x0
        assert -(ep - em) / (2 * h) == pytest.approx(f[i, d], rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("truncation", ["shift", "force_shift"])
def test_force_is_minus_gradient_n65(liquid65, truncation):
    _finite_difference_check(liquid65, 1.8, truncation)


def test_force_is_minus_gradient_n1000(random1000):
    _finite_difference_check(random1000, 2.5, "shift")


@pytest.mark.parametrize("fixture,cutoff,halo", [("liquid65", 1.8, False), ("liquid65", 1.8, True),
                                                ("random1000", 2.5, False), ("liquid500", 2.5, False)])
@pytest.mark.parametrize("truncation", ["shift", "force_shift"])
def test_list_forces_equal_brute_force(request, fixture, cutoff, halo, truncation):
    """Serial domain (minimum image for N = 65, list otherwise) and, for N = 65, the list on the halo
    of a 1x1x1 grid (reproducible mode) against the independent numpy sum."""
    s, dom, table = _setup(request.getfixturevalue(fixture), cutoff, truncation)
    if halo:
        s, dom = request.getfixturevalue(fixture).copy(), DecomposedDomain(table.rc_max, 0.3, SerialComm())
        dom.setup(s)
        assert not dom.min_image and s.n_ghost > 0
    epot, vir = compute_forces(s, dom, table)
    n = s.n_local
    e_ref, f_ref, w_ref = ka_brute_force(s.x[:n], s.typ[:n], s.box, cutoff, truncation == "force_shift")
    assert np.max(np.abs(s.f[:n] - f_ref)) <= 1e-12 * np.max(np.abs(f_ref))
    assert epot == pytest.approx(e_ref, rel=1e-12)
    assert vir == pytest.approx(w_ref, rel=1e-12)


def _brute_force_pairs(s, table, skin=0.3):
    """{(tag_i, tag_j, image (3,)) : r < r_c,ij + skin} over all 27 images of every owned pair (numpy)."""
    n = s.n_local
    images = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])
    out = set()
    for i in range(n):
        r2 = ((s.x[i] - s.x[:n, None, :] - (images * s.box)[None, :, :]) ** 2).sum(-1)  # (n, 27)
        rl = table.rc[2 * s.typ[i] + s.typ[:n]] + skin
        for j, k in zip(*np.nonzero((r2 < rl[:, None] ** 2) & (r2 > 0))):
            out.add((int(s.tag[i]), int(s.tag[j]), tuple(int(c) for c in images[k])))
    return out


def _listed_pairs(s, dom):
    """The domain's list as {(tag_i, tag_j, image)}: a ghost's image is its offset from its owner's row."""
    n = s.n_local
    row_of_tag = np.empty(s.n_global, np.int64)
    row_of_tag[s.tag[:n]] = np.arange(n)
    out = set()
    for i in range(n):
        for j in dom.nlist[i, : dom.count[i]]:
            image = np.rint((s.x[j] - s.x[row_of_tag[s.tag[j]]]) / s.box).astype(int)
            out.add((int(s.tag[i]), int(s.tag[j]), tuple(int(c) for c in image)))
    return out


def test_tiny_box_uses_the_list_free_minimum_image_kernel(liquid65):
    """N = 65 in serial: r_c + skin > L/2, no ghosts and no list, the minimum-image kernel."""
    s, dom, _ = _setup(liquid65, 1.8)
    assert dom.min_image and dom.rlist > s.box[0] / 2 and s.n_ghost == 0


def test_tiny_box_list_holds_every_image_within_list_radius(liquid65):
    """N = 65 on the halo (1×1×1 grid, as reproducible mode): partners within r_list with two images
    appear as two ghost rows; the list equals the brute-force 27-image pair set."""
    table = pair_table(1.8)
    dom, s = DecomposedDomain(table.rc_max, 0.3, SerialComm()), liquid65.copy()
    dom.setup(s)
    assert not dom.min_image and s.n_ghost > 5 * s.n_local
    listed, reference = _listed_pairs(s, dom), _brute_force_pairs(s, table)
    assert listed == reference
    assert len({(i, j) for i, j, _ in listed}) < len(listed)  # multi-image entries exist


@pytest.mark.parametrize("n", [1000, 600, 1400])  # 6, 5, 6 cells of side r_list per edge of box + halo
def test_cell_list_equals_brute_force_pairs(random1000, n):
    state = random1000 if n == 1000 else random_state(n, 1.2, 0.8, n)
    s, dom, table = _setup(state, 2.5)
    assert not dom.min_image and s.n_ghost > 0 and dom._cell_grid()[2][2] == {1000: 6, 600: 5, 1400: 6}[n]
    listed = _listed_pairs(s, dom)
    assert listed == _brute_force_pairs(s, table) and len(listed) > 50 * s.n_local


@pytest.mark.parametrize("n_own", [1, 6])
def test_stencil_box_filter_drops_only_candidates_the_distance_test_rejects(n_own):
    """The list builder copies only stencil particles within r_list of the bounding box of a cell's
    owned particles; with rounding that must never drop a partner the per-particle test lists.
    Candidates within a few ulps of r_list from each owned particle: rows with and without the
    filter are identical, entry for entry, while the filter does drop candidates.  With one
    owned particle its box is the particle, so every shell candidate is also on the box's shell."""
    from pel_hpc.md.neighbors import _owned_bounds, _select, _stencil

    rng = np.random.default_rng(3)
    r, n_shell = 2.8, 400
    own = 10.0 + rng.uniform(0.0, 1.4, (n_own, 3))
    u = rng.normal(size=(n_own, n_shell, 3))
    u /= np.linalg.norm(u, axis=2, keepdims=True)
    shell = r * (1.0 + rng.integers(-4, 5, (n_own, n_shell, 1)) * 2.0**-52)  # within 4 ulps of r_list
    far = own[:, None, :] + u * rng.uniform(0.0, 2.0 * r, (n_own, n_shell, 1))
    cands = np.concatenate([(own[:, None, :] + u * shell).reshape(-1, 3), far.reshape(-1, 3)])
    n_c = len(cands)
    xs, rows = np.ascontiguousarray(cands.T), np.arange(n_c, dtype=np.int32)
    start, nc = np.array([0, n_c, n_c]), np.ones(3, np.int64)  # one cell; A candidates only
    bounds = np.empty(6)
    _owned_bounds(own, np.arange(n_own), 0, n_own, n_own, bounds)
    cand, cj, d2, row = np.empty((3, n_c)), np.empty(n_c, np.int32), np.empty(n_c), np.empty(n_c + 1, np.int32)
    kept, lists = {}, {}
    for reach2 in (np.inf, r * r):
        kept[reach2] = n_t = _stencil(xs, rows, start, 0, 0, 0, 0, nc, 1, bounds, reach2, cand, cj, 0)
        lists[reach2] = [row[:_select(p[0], p[1], p[2], cand, cj, n_t, n_t, r * r, r * r, d2, row)[1]].copy()
                         for p in own]
    assert all(np.array_equal(a, b) for a, b in zip(lists[r * r], lists[np.inf]))
    assert kept[r * r] < 0.9 * kept[np.inf]
    own_shell = [np.count_nonzero((lst >= n_shell * k) & (lst < n_shell * (k + 1))) for k, lst in enumerate(lists[np.inf])]
    assert all(40 < c < 360 for c in own_shell)  # each particle's shell is split: listed and rejected by rounding


@pytest.mark.parametrize("fixture, cutoff", [("liquid65", 1.8), ("random1000", 2.5)])
def test_rows_list_a_partners_before_b_partners(request, fixture, cutoff):
    """The force kernel evaluates a row's A block (``count_a`` entries) and B block with constant parameters."""
    table = pair_table(cutoff)
    dom, s = DecomposedDomain(table.rc_max, 0.3, SerialComm()), request.getfixturevalue(fixture).copy()
    dom.setup(s)
    n_switches = 0
    for i in range(s.n_local):
        t_j = s.typ[dom.nlist[i, : dom.count[i]]]
        assert np.all(t_j[: dom.count_a[i]] == 0) and np.all(t_j[dom.count_a[i]:] == 1)
        n_switches += int(0 < dom.count_a[i] < dom.count[i])
    assert n_switches > 0.9 * s.n_local


def test_refuses_more_rows_than_an_entry_can_index():
    check_rows(MAX_ROWS - 1)
    with pytest.raises(DecompositionError, match="2\\^31"):
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
    epot, vir = pair_forces_min_image(s.x, n, s.typ, s.box, table.coeff, table.force_shift, True, f)
    e_ref, f_ref, w_ref = ka_brute_force(s.x[:n], s.typ[:n], s.box, 1.8, truncation == "force_shift")
    assert np.max(np.abs(f - f_ref)) <= 1e-12 * np.max(np.abs(f_ref))
    assert epot == pytest.approx(e_ref, rel=1e-12) and vir == pytest.approx(w_ref, rel=1e-12)
