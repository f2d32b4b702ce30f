"""The numba cache folder: keyed on the sources, stale versions pruned."""
import os
import time

from pel_hpc._numba_cache import STALE_SECONDS, prune_stale, source_hash


def _folder(base, name, age, now):
    d = base / name
    d.mkdir()
    (d / "index.nbi").write_text("x")
    for p in (d / "index.nbi", d):
        os.utime(p, (now - age, now - age))
    return d


def test_prune_removes_only_other_versions_unused_for_two_days(tmp_path):
    now = time.time()
    current = _folder(tmp_path, "0123456789abcdef", 10 * STALE_SECONDS, now)  # never pruned, however old
    old = _folder(tmp_path, "fedcba9876543210", STALE_SECONDS + 60, now)
    recent = _folder(tmp_path, "00000000aaaaaaaa", STALE_SECONDS - 60, now)
    foreign = _folder(tmp_path, "not-a-hash", 10 * STALE_SECONDS, now)  # not ours: left alone
    prune_stale(tmp_path, current, now)
    assert current.exists() and recent.exists() and foreign.exists() and not old.exists()


def test_source_hash_changes_with_any_package_source(tmp_path):
    for pkg in ("pel_hpc", "postprocess"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "a.py").write_text("x = 1\n")
    before = source_hash(tmp_path)
    (tmp_path / "postprocess" / "a.py").write_text("x = 2\n")
    assert source_hash(tmp_path) != before and len(before) == 16
