"""The ``pel-hpc run`` command: thermo table from a deck, one-line typed errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from pel_hpc.cli import main

DECK = """run: {{name: cli_demo, seed: 3}}
system: {{n: 65, cutoff: 1.8{extra}}}
integrator: {{temperature: 0.7}}
stages:
  - {{name: equilibration, steps: 200, output: false}}
  - {{name: production, steps: 300}}
quench: {{every: 100}}
output: {{thermo: 100, positions: 0, file: out.h5}}
checkpoint: {{file: null}}
"""


def test_run_prints_thermo_table(tmp_path, capsys):
    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra=""))
    assert main(["run", str(deck)]) == 0
    lines = [ln for ln in capsys.readouterr().out.strip().splitlines() if not ln.startswith("#")]  # progress
    assert lines[0].split() == ["step", "time", "T", "E_pot", "E_kin", "H", "P"]
    rows = [[float(w) for w in line.split()] for line in lines[1:]]
    assert [int(r[0]) for r in rows] == [0, 100, 200, 300, 400, 500]
    assert rows[1][1] == pytest.approx(0.5)  # time = step·dt
    assert rows[0][2] == pytest.approx(0.7, abs=1e-6)  # exact initial temperature
    assert rows[0][4] == pytest.approx(1.5 * 0.7 * (3 * 65 - 3) / (3 * 65), abs=1e-6)  # E_kin per particle


def test_mistyped_key_is_a_one_line_error(tmp_path, capsys):
    deck = tmp_path / "bad.yaml"
    deck.write_text(DECK.format(extra=", densty: 1.2"))
    assert main(["run", str(deck)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "system.densty" in err


def test_validate_with_ranks_resolves_auto_and_checks_the_decomposition(tmp_path, capsys):
    """``pel-hpc validate DECK --ranks P``: the auto ranks per replica and the grid they need."""
    deck = tmp_path / "big.yaml"
    deck.write_text("system: {n: 8000}\nintegrator: {temperature: 0.6}\nstages: [{name: p, steps: 10}]\n")
    assert main(["validate", str(deck), "--ranks", "8"]) == 0
    assert "1 replica(s), 8 rank(s) each" in capsys.readouterr().out
    assert main(["validate", str(deck), "--ranks", "512"]) == 5  # DecompositionError
    err = capsys.readouterr().err.strip()
    assert err == ("pel-hpc: error: 512 ranks cannot split a box of 18.82x18.82x18.82 sigma into sub-boxes at "
                   "least r_c+skin = 2.8 wide; the largest grid that works is 6x6x6 (216 ranks)")


def test_module_entry_point_cutoff_error(tmp_path):
    deck = tmp_path / "big_rc.yaml"
    deck.write_text(DECK.format(extra="").replace("cutoff: 1.8", "cutoff: 2.5"))
    proc = subprocess.run([sys.executable, "-m", "pel_hpc", "run", str(deck)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "system.cutoff" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def _rows(capsys):
    """The thermo rows printed since the last call, split into columns."""
    return [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.strip()[:1].isdigit()]


def _first_run(tmp_path, capsys):
    """Run :data:`DECK` with positions every 500 steps into ``out.h5``; its thermo rows."""
    first = tmp_path / "first.yaml"
    first.write_text(DECK.format(extra="").replace("positions: 0, file: out.h5", "positions: 500, file: out.h5"))
    assert main(["run", str(first)]) == 0
    return _rows(capsys)


def test_start_from_our_file_replicated_keeps_energy_per_particle(tmp_path, capsys):
    """Run, then start a second deck from the last frame, replicated 2×1×1: same E_pot per particle."""
    rows_first = _first_run(tmp_path, capsys)
    second = tmp_path / "second.yaml"
    second.write_text(DECK.format(extra=", init: {kind: replicate, file: out.h5, replicate: [2, 1, 1]}")
                      .replace("n: 65, ", "").replace("file: out.h5}", "file: out2.h5}")
                      .replace("steps: 200, output: false", "steps: 0, output: false")
                      .replace("steps: 300", "steps: 1"))
    assert main(["run", str(second)]) == 0
    rows_second = _rows(capsys)
    assert int(rows_first[-1][0]) == 500 and int(rows_second[0][0]) == 0
    assert float(rows_second[0][3]) == pytest.approx(float(rows_first[-1][3]), abs=2e-6)  # E_pot, 6 decimals


def test_a_deck_of_zero_steps_writes_its_start(tmp_path, capsys):
    """Stages of 0 steps (LAMMPS' ``run 0``: a start written out, its energy evaluated) act the
    operations at step 0: the frame read from another run's last frame is written back bitwise, its
    E_pot row is that run's, and a --restart of the finished run adds nothing.  Before, such a run
    wrote an empty file.  A particle that had left the box since the last list build is written
    wrapped back into it at the set-up (as LAMMPS' ``run 0`` remaps atoms), its image one lower."""
    rows_first = _first_run(tmp_path, capsys)
    second = tmp_path / "second.yaml"
    second.write_text(DECK.format(extra=", init: {kind: file, file: out.h5}")
                      .replace("n: 65, ", "").replace("positions: 0, file: out.h5", "positions: 100, file: out0.h5")
                      .replace("steps: 200, output: false", "steps: 0, output: false").replace("steps: 300", "steps: 0")
                      .replace("checkpoint: {file: null}", "checkpoint: {every: 0}"))
    for args in ([], ["--restart"]):
        assert main(["run", str(second), *args]) == 0
        rows = _rows(capsys)
        assert [r[0] for r in rows] == (["0"] if not args else [])
        if rows:
            assert rows[0][3] == rows_first[-1][3]  # E_pot per particle, as printed
    with h5py.File(tmp_path / "out.h5", "r") as a, h5py.File(tmp_path / "out0.h5", "r") as b:
        assert b["particles/replica_000/position/step"][:].tolist() == [0]
        (xa, ia), (xb, ib) = ((f["particles/replica_000/position/value"][k], f["particles/replica_000/image/value"][k])
                              for f, k in ((a, -1), (b, 0)))
        box = b["particles/replica_000/box/edges"][()]
    kept = np.all(ia == ib, axis=1)
    assert np.array_equal(xb[kept], xa[kept]) and np.all((xb >= 0) & (xb < box))
    np.testing.assert_allclose(xb + ib * box, xa + ia * box, rtol=0, atol=1e-13)


def test_version_names_the_commit_and_modified_sources(tmp_path):
    """``pel-hpc --version`` and the commit every output file records: ``git rev-parse HEAD`` of the sources
    (asked of git here), with ``-dirty`` once a file of pel_hpc/ or postprocess/ differs from it (a
    changed README does not count).  Checked in a clone, so this work tree's state does not matter."""
    root = Path(__file__).resolve().parents[2]
    clone = tmp_path / "clone"
    if subprocess.run(["git", "clone", "-q", str(root), str(clone)], capture_output=True).returncode:
        pytest.skip("the sources are not a git work tree")
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, PYTHONPATH=str(clone))

    def version():
        out = subprocess.run([sys.executable, "-m", "pel_hpc", "--version"], capture_output=True, text=True,
                             cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert version() == f"pel-hpc 0.1.0 (git {head})"
    (clone / "README.md").write_text("changed\n")
    assert version() == f"pel-hpc 0.1.0 (git {head})"
    with open(clone / "pel_hpc" / "units.py", "a") as f:
        f.write("# a local change\n")
    assert version() == f"pel-hpc 0.1.0 (git {head}-dirty)"


def test_existing_output_is_never_silently_replaced(tmp_path, capsys):
    """A second fresh run of the same deck stops with exit 7 and leaves the file untouched;
    --overwrite replaces it; --restart with neither output nor checkpoint starts afresh."""
    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra="").replace("steps: 300", "steps: 100"))
    assert main(["run", str(deck)]) == 0
    out = tmp_path / "out.h5"
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    capsys.readouterr()
    assert main(["run", str(deck)]) == 7
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out.h5" in err and "--restart" in err and "--overwrite" in err
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    assert main(["run", str(deck), "--overwrite"]) == 0 and out.stat().st_mtime_ns != before[1]
    capsys.readouterr()
    assert main(["run", str(deck), "--restart"]) == 3  # this deck writes no checkpoint (was a TypeError)
    assert "--restart: the deck writes no checkpoint (checkpoint.file: null)" in capsys.readouterr().err
    out.unlink()
    assert main(["run", str(deck), "--restart"]) == 0 and out.exists()
    assert "starting from the beginning" in capsys.readouterr().err


def test_output_held_by_another_process_is_neither_truncated_nor_appended(tmp_path, capsys):
    """A job still writing its output (held open here by another process) and a second submission of
    the same deck: ``--overwrite`` used to truncate the file before HDF5 refused its lock (the running
    job then crashed and its file was unreadable), ``--restart`` and the readers said "not a readable
    HDF5 file".  Now each is refused in one line, exit 9, and the file is byte for byte the same."""
    from pel_hpc.errors import FileInUseError
    from postprocess import io as pio

    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra="").replace("steps: 300", "steps: 100").replace("file: null", "every: 100"))
    assert main(["run", str(deck)]) == 0
    out = tmp_path / "out.h5"
    holder = subprocess.Popen([sys.executable, "-c", f"import h5py, sys, time; f = h5py.File({str(out)!r}, 'r+'); "
                               "print('open', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        before = out.read_bytes()  # as the holder left it (opening for writing marks the superblock)
        capsys.readouterr()
        for argv in (["run", str(deck), "--overwrite"], ["run", str(deck), "--restart"], ["info", str(out)]):
            assert main(argv) == FileInUseError.exit_code, argv
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "out.h5' is open in another process (HDF5 file lock)" in err
            assert out.read_bytes() == before
        with pytest.raises(FileInUseError):
            pio.open_file(out)
    finally:
        holder.kill()
        holder.wait()
    assert main(["run", str(deck), "--overwrite"]) == 0  # once it is closed, replaced as asked


def test_a_running_job_owns_its_output(tmp_path, capsys):
    """While a job runs (its run lock held by another process here), a second run of the same output
    (fresh with --overwrite, --restart, under mpirun on 2 ranks) and the readers are refused in one
    line naming the holder, exit 9, with the file and checkpoint unchanged.  Before, under MPI-IO
    (which HDF5 1.10 does not lock) --overwrite unlinked the running job's file and the job hung."""
    from pel_hpc.errors import FileInUseError
    from pel_hpc.io.runlock import lock_path
    from postprocess import io as pio

    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra="").replace("steps: 300", "steps: 100").replace("file: null", "every: 100"))
    assert main(["run", str(deck)]) == 0
    out, chk = tmp_path / "out.h5", tmp_path / "out.chk.h5"
    assert not lock_path(out).exists()  # removed when the run ended
    before = (out.read_bytes(), chk.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pel_hpc.io.runlock import acquire; "
                               f"acquire({str(out)!r}); print('held', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid} on " in lock_path(out).read_text()
        capsys.readouterr()
        for argv in (["run", str(deck)], ["run", str(deck), "--overwrite"], ["run", str(deck), "--restart"],
                     ["info", str(out)], ["export", str(out), str(tmp_path / "r0.h5")]):
            assert main(argv) == FileInUseError.exit_code, argv
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and f"out.h5' belongs to a running job (pid {holder.pid} on " in err
        with pytest.raises(FileInUseError, match="belongs to a running job"):
            pio.open_file(out)
        proc = _mpirun(2, "-m", "pel_hpc", "run", str(deck), "--overwrite", cwd=tmp_path)
        lines = _error_lines(proc)
        assert proc.returncode == FileInUseError.exit_code and len(lines) == 1 and "running job" in lines[0], proc.stderr
        assert (out.read_bytes(), chk.read_bytes()) == before and not (tmp_path / "r0.h5").exists()
    finally:
        holder.kill()
        holder.wait()
    assert lock_path(out).exists()  # the killed holder's file stays, unlocked
    assert main(["run", str(deck), "--restart"]) == 0  # the lock dies with its process: continued
    assert not lock_path(out).exists()


def test_a_file_created_after_the_check_is_not_truncated(tmp_path):
    """Two submissions of one deck both find no output; the later creation must not truncate the file
    the earlier one made (HDF5's "w" did): exclusive creation refuses it."""
    from pel_hpc.errors import OutputExistsError
    from pel_hpc.io.h5md import create_file

    path = tmp_path / "race.h5"
    with create_file(path) as f:
        f["x"] = 1.0
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="created after this run checked for it"):
        create_file(path)
    assert path.read_bytes() == before
    path.write_text("not HDF5")  # a corrupt leftover is replaced when asked
    with create_file(path, replace=True) as f:
        assert "x" not in f


MPIRUN = ["mpirun", "--oversubscribe"]


def _mpirun(n: int, *args, cwd=None, timeout=120):
    """``mpirun -n n python args`` with this process's ``os.environ``: an explicit copy, because
    once an in-process test has started MPI (a singleton), the C-level environment that a plain
    subprocess inherits holds that singleton's variables, and a nested mpirun fails on them."""
    return subprocess.run(MPIRUN + ["-n", str(n), sys.executable, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=dict(os.environ))


def _error_lines(proc, prefix="pel-hpc: error: "):
    return [ln for ln in (proc.stdout + proc.stderr).splitlines() if prefix in ln]


def test_bad_deck_under_mpirun_is_reported_once(tmp_path):
    """Every rank fails on the deck (before MPI starts): one line from rank 0, the deck's exit code."""
    deck = tmp_path / "bad.yaml"
    deck.write_text(DECK.format(extra=", densty: 1.2"))
    proc = _mpirun(3, "-m", "pel_hpc", "run", str(deck))
    lines = _error_lines(proc)
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("pel-hpc: error: ") and "densty" in lines[0]


def test_corrupt_checkpoint_under_mpirun_is_reported_once(tmp_path):
    """Every rank fails reading the checkpoint (MPI running): they agree, rank 0 reports, exit 4."""
    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra="").replace("checkpoint: {file: null}", "checkpoint: {every: 100}")
                    + "ensemble: {replicas: 2}\n")
    (tmp_path / "out.h5").write_text("not HDF5")
    (tmp_path / "out.chk.h5").write_text("not HDF5 either")
    proc = _mpirun(2, "-m", "pel_hpc", "run", str(deck), "--restart", cwd=tmp_path)
    lines = _error_lines(proc)
    assert proc.returncode == 4 and len(lines) == 1 and ".h5" in lines[0], proc.stderr
    assert (tmp_path / "out.h5").read_text() == "not HDF5"  # nothing written over it


def test_a_rank_failing_alone_reports_and_ends_the_job(tmp_path):
    """One rank fails while the others wait for it in a collective: it reports and aborts the job
    with its code rather than leaving them waiting for ever."""
    code = ("import sys\nfrom pel_hpc.parallel.comm import world, report_failure\ncomm = world()\n"
            "if comm.rank == 1:\n    report_failure('pel-hpc: error: rank 1 alone', 5, delay=0.5)\n    sys.exit(5)\n"
            "comm.barrier()\n")
    proc = _mpirun(3, "-c", code, timeout=60)
    assert proc.returncode == 5 and _error_lines(proc) == ["pel-hpc: error: rank 1 alone"]


def test_output_into_a_closed_pipe_ends_quietly():
    """``pel-hpc info F | head`` printed a BrokenPipeError traceback when head stopped first; now the
    command ends as if killed by SIGPIPE (exit 141), with nothing on stderr (the reader is gone before
    the first line here)."""
    proc = subprocess.Popen([sys.executable, "-m", "pel_hpc", "deck-reference"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ))
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_a_start_or_export_from_the_wrong_file_names_what_it_is(tmp_path, capsys):
    """lowest_inherent_structure from a run that stored no IS positions said "has no 'particles/...'
    (not a pel_hpc H5MD file?)" of our own file; now it names the deck key that was 0."""
    deck = tmp_path / "d.yaml"
    deck.write_text(DECK.format(extra="").replace("steps: 300", "steps: 100").replace("file: null", "every: 100"))
    assert main(["run", str(deck)]) == 0
    start = tmp_path / "start.yaml"
    start.write_text("system: {cutoff: 1.8, init: {kind: lowest_inherent_structure, file: out.h5}}\n"
                     "integrator: {temperature: 0.6}\nstages: [{name: s, steps: 10}]\n")
    capsys.readouterr()
    assert main(["validate", str(start)]) == 4
    err = capsys.readouterr().err
    assert "out.h5' holds no inherent structure frames: its run stored none (output.is_positions: 0" in err
    for init, code, message in (("{kind: file, file: out.h5, replica: 2}", 2,
                                 "system.init.replica: 2, but '" + str(tmp_path / "out.h5") + "' holds replicas 0 to 0"),
                                ("{kind: file, file: out.chk.h5}", 4, "out.chk.h5' is a checkpoint, not an output file")):
        start.write_text(f"system: {{init: {init}}}\nintegrator: {{temperature: 0.6}}\nstages: [{{name: s, steps: 10}}]\n")
        assert main(["validate", str(start)]) == code
        assert message in capsys.readouterr().err
    assert main(["export", str(tmp_path / "out.chk.h5"), str(tmp_path / "c.h5")]) == 4  # said "replicas 0 to 5"
    assert "out.chk.h5' is a checkpoint, not an output file" in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_a_clean_exit(tmp_path):
    """The output's file system fills up (a 3 MB tmpfs): the run used to die of a segmentation fault
    after pages of h5py tracebacks; now one line names the file, the reason and what is kept, exit 10,
    and the run lock is gone.  Serial run (under MPI-IO the same failure hangs: see the README)."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs on this machine")
    try:
        (small / "full.yaml").write_text("run: {name: full, seed: 3}\nsystem: {n: 1000}\n"
                                         "integrator: {temperature: 0.8}\nstages: [{name: prod, steps: 8000}]\n"
                                         "output: {thermo: 100, positions: 100, velocities: 100}\n")
        proc = subprocess.run([sys.executable, "-m", "pel_hpc", "run", str(small / "full.yaml")],
                              capture_output=True, text=True, timeout=300, env=dict(os.environ))
        assert proc.returncode == 10, proc.stderr[-2000:]
        assert re.fullmatch(f"pel-hpc: error: writing '{small / 'full.h5'}' failed at step [0-9]+: No space left "
                            "on device; there is no checkpoint to continue from\n", proc.stderr), proc.stderr[-2000:]
        assert not (small / ".full.h5.lock").exists()
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
