"""Key numba's on-disk cache on a hash of the package sources.

Numba's ``cache=True`` index checks only the timestamp of the file that defines a
kernel, so an edit to an inlined callee in another file would silently run stale
machine code.  We therefore point ``NUMBA_CACHE_DIR`` at a directory named after a
hash of every ``.py`` file of ``pel_hpc`` and ``postprocess``: any edit selects a
fresh cache, and compile time is paid once per source version, not once per run.
An explicit ``NUMBA_CACHE_DIR`` in the environment is respected.
"""
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

_PACKAGES = ("pel_hpc", "postprocess")
STALE_SECONDS = 2 * 86400  # caches of other source versions unused this long are removed


def source_hash(root: Path) -> str:
    """SHA-1 (first 16 hex digits) over the paths and bytes of all package sources."""
    digest = hashlib.sha1()
    for pkg in _PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure_numba_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` to ``<repo>/.numba_cache/<source hash>`` unless already set."""
    # One thread per MPI rank: threaded BLAS stalls on shared cores (an N=8000 L-BFGS iteration
    # was 10x slower with threaded ddot).  Effective only before numpy loads.  Numba's pool is
    # started only for run.threads > 1 (pel_hpc.parallel.launch.use_threads), so its size is left
    # to NUMBA_NUM_THREADS or numba (the CPUs this process may run on).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    root = Path(__file__).resolve().parent.parent
    base = root / ".numba_cache"
    if not os.access(root, os.W_OK):
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pel_hpc" / "numba"
    current = base / source_hash(root)
    os.environ["NUMBA_CACHE_DIR"] = str(current)
    prune_stale(base, current)
    if "numba" in sys.modules:  # numba read its config already: make it see the new directory
        from numba.core import config

        config.reload_config()


def prune_stale(base: Path, current: Path, now: float | None = None) -> None:
    """Remove the caches of other source versions (16-hex-digit folders in ``base``) untouched for
    :data:`STALE_SECONDS`: every edit or pull leaves one behind (5-7 MB each).  A process still
    running an old version that compiles again simply recreates its folder."""
    now = time.time() if now is None else now
    try:
        folders = [p for p in base.iterdir() if p != current and re.fullmatch(r"[0-9a-f]{16}", p.name)]
    except OSError:
        return
    for folder in folders:
        try:
            newest = max([folder.stat().st_mtime] + [f.stat().st_mtime for f in folder.iterdir()])
        except OSError:
            continue
        if now - newest > STALE_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
