"""Checkpoints: bitwise round trip, write-then-rename, corrupt files; a run killed with SIGKILL
and restarted ends bitwise equal to an uninterrupted run with every frame once; SIGTERM
checkpoints and exits with code 75."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from pel_hpc.errors import CheckpointExit, CorruptFileError, InputFileError
from pel_hpc.io.checkpoint import checkpoint_step, read_checkpoint, write_checkpoint
from pel_hpc.parallel.comm import SerialComm
from pel_hpc.state import State

ROOT = Path(__file__).resolve().parents[2]
DECK = """run: {{name: {name}, seed: 11}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: 0.6}}
stages:
  - {{name: equilibration, steps: 300, output: false}}
  - {{name: production, steps: {steps}}}
quench: {{every: 200}}
output: {{thermo: 100, positions: 100, velocities: 200, is_positions: 400}}
checkpoint: {{every: {every}}}
"""


def random_state(n=20, seed=0):
    rng = np.random.default_rng(seed)
    st = State.from_arrays(rng.random((n, 3)) * 3, rng.integers(0, 2, n), [3.0, 3.0, 3.0],
                           v=rng.normal(size=(n, 3)), tag=rng.permutation(n), step=1234, seed=77)
    st.image[:] = rng.integers(-3, 3, (n, 3))
    st.nhc_eta, st.nhc_veta = rng.normal(size=3), rng.normal(size=3)
    return st


def test_round_trip_is_bitwise(tmp_path):
    st = random_state()
    write_checkpoint(tmp_path / "c.h5", st, SerialComm(), extra={"stage": 1})
    back, extra = read_checkpoint(tmp_path / "c.h5", SerialComm())
    for name in ("x", "v", "f", "typ", "tag", "image", "box", "nhc_eta", "nhc_veta"):
        a, b = getattr(st, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert (back.step, back.seed, back.n_local, back.n_global, extra["stage"]) == (1234, 77, 20, 20, 1)
    assert checkpoint_step(tmp_path / "c.h5") == 1234
    assert os.listdir(tmp_path) == ["c.h5"]  # the temporary file was renamed


def test_info_describes_a_checkpoint(tmp_path):
    """``pel-hpc info`` on a checkpoint names it as one and lists each replica's particles and step
    (it used to say the file was not pel_hpc H5MD); an incomplete one is said not to be restartable."""
    from pel_hpc.io.reader import describe

    a, b = random_state(n=20, seed=1), random_state(n=13, seed=2)
    b.replica, b.step, b.box = 3, 99, np.array([4.0, 5.0, 6.0])
    write_checkpoint(tmp_path / "c.h5", [a, b], SerialComm())
    lines = describe(tmp_path / "c.h5").splitlines()
    assert lines[1] == "  pel_hpc checkpoint, complete: continue with --restart; written by 1 ranks"
    assert lines[2:] == ["  replica 0: 20 particles, step 1234, box edges [3.0, 3.0, 3.0]",
                         "  replica 3: 13 particles, step 99, box edges [4.0, 5.0, 6.0]"]
    with h5py.File(tmp_path / "c.h5", "r+") as f:
        f.attrs["complete"] = False
    assert describe(tmp_path / "c.h5").splitlines()[1:] == [
        "  pel_hpc checkpoint, INCOMPLETE (a write was interrupted): not restartable; written by 1 ranks"]


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.h5"
    write_checkpoint(path, random_state(seed=1), SerialComm())
    import pel_hpc.io.checkpoint as chk

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a kill in the middle of writing the temporary file

    monkeypatch.setattr(chk, "write_rows", crash)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(path, random_state(seed=2), SerialComm())
    back, _ = read_checkpoint(path, SerialComm())
    assert np.array_equal(back.x, random_state(seed=1).x)


def test_truncated_and_missing_checkpoints(tmp_path):
    path = tmp_path / "c.h5"
    write_checkpoint(path, random_state(), SerialComm())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError, match="is not a readable HDF5 file"):
        read_checkpoint(path, SerialComm())
    assert checkpoint_step(path) is None
    with pytest.raises(InputFileError, match="no checkpoint"):
        read_checkpoint(tmp_path / "none.h5", SerialComm())


def run_cli(*args, **kw):
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "pel_hpc", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_checkpoint(proc, path, min_step, timeout=240):
    t0 = time.time()
    while time.time() - t0 < timeout:
        step = checkpoint_step(path)
        if step is not None and step >= min_step:
            return step
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise TimeoutError(path)


def read_all(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.mark.slow
def test_sigkill_then_restart_is_bitwise_and_has_every_frame_once(tmp_path):
    steps, every = 12000, 1500
    for name in ("whole", "killed"):
        (tmp_path / f"{name}.yaml").write_text(DECK.format(name=name, steps=steps, every=every))
    whole = run_cli("run", str(tmp_path / "whole.yaml"))
    assert whole.wait(timeout=600) == 0, whole.stderr.read()
    killed = run_cli("run", str(tmp_path / "killed.yaml"))
    wait_for_checkpoint(killed, tmp_path / "killed.chk.h5", 2 * every)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    at_kill = checkpoint_step(tmp_path / "killed.chk.h5")
    assert at_kill < 300 + steps, "the run finished before it was killed"
    restarted = run_cli("run", str(tmp_path / "killed.yaml"), "--restart")
    assert restarted.wait(timeout=600) == 0, restarted.stderr.read()
    a, _ = read_checkpoint(tmp_path / "whole.chk.h5", SerialComm())
    b, _ = read_checkpoint(tmp_path / "killed.chk.h5", SerialComm())
    assert a.step == b.step == 300 + steps
    for name in ("x", "v", "image"):
        assert np.array_equal(getattr(a, name)[np.argsort(a.tag)], getattr(b, name)[np.argsort(b.tag)]), name
    assert np.array_equal(a.nhc_eta, b.nhc_eta) and np.array_equal(a.nhc_veta, b.nhc_veta)
    fa, fb = read_all(tmp_path / "whole.h5"), read_all(tmp_path / "killed.h5")
    assert sorted(fa) == sorted(fb)
    for name in fa:
        if not name.startswith("parameters"):
            assert np.array_equal(fa[name], fb[name]), name
    with h5py.File(tmp_path / "killed.h5", "r") as f:
        pos_steps = f["particles/replica_000/position/step"][()]
        is_steps = f["observables/replica_000/inherent_structure_energy/step"][()]
        assert f["particles/replica_000/image/value"].shape[0] == len(pos_steps)
    assert np.array_equal(pos_steps, np.arange(400, 300 + steps + 1, 100))  # each frame once, none missing
    assert np.array_equal(is_steps, np.arange(400, 300 + steps + 1, 200))


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_exits_75(tmp_path):
    (tmp_path / "t.yaml").write_text(DECK.format(name="t", steps=400000, every=0))
    proc = run_cli("run", str(tmp_path / "t.yaml"))
    t0 = time.time()
    while not (tmp_path / "t.h5").exists() or time.time() - t0 < 0.5:
        assert proc.poll() is None and time.time() - t0 < 240
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == CheckpointExit.exit_code == 75
    assert "stopped by signal" in proc.stderr.read()
    step = checkpoint_step(tmp_path / "t.chk.h5")
    assert step is not None and 0 < step < 400300 and step % 100 == 0
    with h5py.File(tmp_path / "t.h5", "r") as f:  # no frame beyond the checkpoint (none yet if the signal came
        assert np.all(f["particles/replica_000/position/step"][()] <= step)  # during equilibration)


def test_stop_signal_after_the_run_does_not_fail_the_process(tmp_path):
    """A job warned (USR1) or terminated just as its run ended: the process has nothing left to save
    and exits 0 instead of dying by the signal's default action (a FAILED job under SLURM)."""
    (tmp_path / "late.yaml").write_text(DECK.format(name="late", steps=200, every=0))
    code = ("import os, signal, sys\n"
            "from pel_hpc.cli import main\n"
            "rc = main(['run', sys.argv[1]])\n"
            "os.kill(os.getpid(), signal.SIGUSR1)\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "print('alive after the run', flush=True)\n"
            "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "late.yaml")], cwd=ROOT, text=True,
                          capture_output=True, timeout=600, env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    assert proc.returncode == 0 and "alive after the run" in proc.stdout, proc.stderr
    assert checkpoint_step(tmp_path / "late.chk.h5") == 500
