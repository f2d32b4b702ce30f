"""The report's source tables name each input file's N and T from the file itself: a run whose deck
derives N from a start file (no ``system.n``) shows its particle count, a file that is not an MD run
(a CLM scan) shows "—" for both (they read "file start" and "None") and the commits its points
were computed with (it read "?")."""
import h5py
import numpy as np

from pel_hpc.io import layout as L
from postprocess.report import run_provenance
from synthetic_h5md import write_file


def test_n_comes_from_the_file_and_a_non_md_file_has_none(tmp_path):
    species = np.r_[np.zeros(416, np.int32), np.ones(104, np.int32)]
    path = write_file(tmp_path / "ice.h5", 0.6, np.arange(3) * 0.5, np.full(3, -7.0), [8.0] * 3, species, name="ice")
    p = run_provenance(path)
    assert (p["run"], p["n"], p["temperature"], p["replicas"]) == ("ice", 520, 0.6, 1)
    assert p["git_commit"] == "synthetic"
    with h5py.File(tmp_path / "scan.h5", "w") as f:  # a CLM scan file: each point names its code
        for k, commit in enumerate(("a" * 40, "b" * 40, "a" * 40)):
            f.create_group(f"point{k}").attrs[L.ATTR_GIT_COMMIT] = commit
    p = run_provenance(tmp_path / "scan.h5")
    assert (p["run"], p["n"], p["temperature"], p["replicas"]) == ("scan", "—", "—", 0)
    assert p["git_commit"] == "a" * 12 + ", " + "b" * 12
