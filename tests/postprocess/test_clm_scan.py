"""CLM scans: YAML grid → one HDF5 file; a rerun (also after an interruption) recomputes nothing stored."""
import h5py
import numpy as np
import pytest

from pel_hpc.errors import CorruptFileError, DeckError, InputFileError
from postprocess.clm import scan

YAML = """
pel: {sigma_gamma: 0.5}
grid: {temperature: [0.8], q: [0.0, 0.2], shape: [[3, 3, 3]], r_max: [null], seed: [1]}
run: {duration: 300.0, n_blocks: 4}
"""


def _write(tmp_path, text=YAML):
    path = tmp_path / "scan.yaml"
    path.write_text(text)
    return path


def test_scan_extends_and_never_recomputes(tmp_path, capsys):
    deck, out = _write(tmp_path), tmp_path / "scan.h5"
    assert scan.main([str(deck), "--out", str(out)]) == 0
    first = {t.config.q: t.moments.copy() for t in scan.read_results(out)}
    assert sorted(first) == [0.0, 0.2]
    # a second run computes nothing
    assert scan.run_scan(scan.load_scan(deck), out, log=lambda *_: None) == 0
    # simulate a kill in the middle of writing the q = 0.2 point: the marker is missing
    with h5py.File(out, "a") as h5:
        name = [n for n in h5 if "_q0.2_" in n][0]
        del h5[name].attrs["complete"]
    # extend the grid by one temperature: only the incomplete point and the new ones run
    deck2 = _write(tmp_path, YAML.replace("temperature: [0.8]", "temperature: [0.8, 0.9]"))
    assert scan.run_scan(scan.load_scan(deck2), out, log=lambda *_: None) == 3
    again = {(t.config.temperature, t.config.q): t.moments for t in scan.read_results(out)}
    assert len(again) == 4
    for q, m in first.items():   # same seed → same numbers for the redone point; stored one untouched
        assert np.array_equal(again[(0.8, q)], m)
    assert scan.read_results(out)[0].config.pel.sigma_gamma == 0.5
    with h5py.File(out, "r") as h5:  # each point names the code that computed it
        from pel_hpc import __version__
        from pel_hpc.io.h5md import git_commit
        assert {(g.attrs["git_commit"], g.attrs["package_version"]) for g in h5.values()} == {(git_commit(), __version__)}


def test_changed_run_settings_are_new_points(tmp_path):
    a = scan.load_scan(_write(tmp_path))[0]
    b = scan.load_scan(_write(tmp_path, YAML.replace("300.0", "400.0")))[0]
    assert scan.config_key(a) != scan.config_key(b)


def test_bad_scan_file(tmp_path):
    with pytest.raises(DeckError, match="tempreature"):
        scan.load_scan(_write(tmp_path, "grid: {tempreature: [0.5]}"))
    with pytest.raises(InputFileError, match="missing.yaml"):  # one line and exit 3 via postprocess.command.run
        scan.main([str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x.h5")])


def test_scan_never_writes_into_a_file_that_is_not_a_scan(tmp_path):
    """An MD output given as --out by mistake is refused before any CLM work, byte for byte unchanged;
    a new file, a marked scan file with a point cut short by a crash, and an unmarked older scan
    file (every group a grid point) are accepted."""
    md = tmp_path / "md.h5"
    with h5py.File(md, "w") as f:
        f.create_group("h5md")
        f["particles/replica_000/position/value"] = np.zeros((2, 65, 3))
    before = md.read_bytes()
    with pytest.raises(CorruptFileError, match="not a CLM scan file.*'h5md'"):
        scan.run_scan([], md)
    assert md.read_bytes() == before
    with pytest.raises(InputFileError, match="does not exist"):
        scan.run_scan([], tmp_path / "no" / "clm.h5")
    scan.check_scan_target(tmp_path / "new.h5")
    with h5py.File(tmp_path / "cut.h5", "w") as f:
        f.attrs[scan.SCAN_MARK] = True
        f.create_group("T0.5_q0_cut_short")  # no config attribute yet
    scan.check_scan_target(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.create_group("T0.5_q0_point").attrs["config"] = "{}"
    scan.check_scan_target(tmp_path / "old.h5")
