"""H5MD output: the H5MD 1.1 structure (groups, attributes, shapes, dtypes), hard-linked clocks,
tag-ordered rows equal to the final state, provenance, a reader we did not write (MDAnalysis),
replica export, corrupt files and bad decks at the command line."""
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from pel_hpc import units
from pel_hpc.deck.validate import load_deck
from pel_hpc.errors import CorruptFileError, DeckError, InputFileError, OutputExistsError
from pel_hpc.io import layout as L
from pel_hpc.io.checkpoint import read_checkpoint
from pel_hpc.io.export import export_replica
from pel_hpc.io.reader import read_frame
from pel_hpc.io.session import run_deck
from pel_hpc.io.writer import H5MDWriter
from pel_hpc.parallel.comm import SerialComm

ROOT = Path(__file__).resolve().parents[2]
DECK = """run: {name: out, seed: 5}
system: {n: 65, cutoff: 1.8}
integrator: {temperature: 0.6}
stages:
  - {name: equilibration, steps: 100, output: false}
  - {name: production, steps: 600}
quench: {every: 100}
output: {thermo: 50, positions: 100, velocities: 100, is_positions: 200}
"""


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h5md")
    (folder / "out.yaml").write_text(DECK)
    cfg = load_deck(folder / "out.yaml")
    run_deck(cfg, SerialComm(), stream=open(os.devnull, "w"))
    return cfg


def check_time_series(group, inner, dtype):
    assert set(group) >= {L.STEP, L.TIME, L.VALUE}
    n = group[L.STEP].shape[0]
    assert group[L.STEP].dtype == np.int64 and group[L.TIME].dtype == np.float64
    assert group[L.VALUE].shape == (n,) + inner and group[L.VALUE].dtype == dtype
    assert np.all(np.diff(group[L.STEP][()]) > 0)


def test_h5md_11_structure(run_file):
    cfg = run_file
    with h5py.File(cfg.output.file, "r") as f:
        assert list(f[L.H5MD].attrs[L.ATTR_VERSION]) == [1, 1]
        assert f[L.AUTHOR].attrs[L.ATTR_NAME] and f[L.CREATOR_GROUP].attrs[L.ATTR_NAME] == "pel_hpc"
        assert L.ATTR_VERSION in f[L.CREATOR_GROUP].attrs
        particles = f[L.particles_path(0)]
        box = particles[L.BOX]
        assert box.attrs[L.ATTR_DIMENSION] == 3
        assert [b.decode() if isinstance(b, bytes) else b for b in box.attrs[L.ATTR_BOUNDARY]] == ["periodic"] * 3
        assert np.allclose(box[L.EDGES][()], (65 / 1.2) ** (1 / 3)) and box[L.EDGES].shape == (3,)
        for name, dtype in ((L.POSITION, np.float64), (L.IMAGE, np.int32), (L.VELOCITY, np.float64),
                            (L.INHERENT_STRUCTURE, np.float64)):
            check_time_series(particles[name], (65, 3), dtype)
        assert particles[L.SPECIES].shape == (65,) and particles[L.SPECIES].dtype == np.int32
        assert np.bincount(particles[L.SPECIES][()]).tolist() == [52, 13]  # 80:20 of 65
        for name in L.THERMO_OBSERVABLES + (L.IS_ENERGY,):
            check_time_series(f[L.observable_path(0, name)], (), np.float64)
        assert particles[L.POSITION][L.VALUE].attrs[L.ATTR_UNIT] == units.LENGTH
        assert particles[L.POSITION][L.TIME].attrs[L.ATTR_UNIT] == units.TIME
        assert f[L.observable_path(0, L.PRESSURE)][L.VALUE].attrs[L.ATTR_UNIT] == units.PRESSURE


def test_cadences_and_hard_links(run_file):
    with h5py.File(run_file.output.file, "r") as f:
        p = f[L.particles_path(0)]
        assert p[L.POSITION][L.STEP].id == p[L.IMAGE][L.STEP].id  # one object, two names
        assert p[L.VELOCITY][L.STEP].id != p[L.POSITION][L.STEP].id
        obs = [f[L.observable_path(0, n)][L.STEP].id for n in L.THERMO_OBSERVABLES]
        assert all(o == obs[0] for o in obs)
        assert p[L.POSITION][L.STEP][()].tolist() == list(range(200, 701, 100))
        assert p[L.INHERENT_STRUCTURE][L.STEP][()].tolist() == [200, 400, 600]
        assert f[L.observable_path(0, L.IS_ENERGY)][L.STEP][()].tolist() == list(range(200, 701, 100))
        assert np.allclose(p[L.POSITION][L.TIME][()], p[L.POSITION][L.STEP][()] * 0.005)


def test_a_frame_read_in_chunks_keeps_the_selected_rows_with_their_tags(run_file, monkeypatch):
    """``read_frame(keep=...)`` (how each rank reads only its own particles of a large start) over
    chunks of 7 rows: every selected particle, with its tag, and nothing else."""
    from pel_hpc.parallel import grid

    whole = read_frame(run_file.output.file, -1)
    monkeypatch.setattr(grid, "ROWS_PER_CHUNK", 7)
    part = read_frame(run_file.output.file, -1, keep=lambda box: (lambda x: x[:, 0] < 0.5 * box[0]))
    rows = np.flatnonzero(whole.x[:, 0] < 0.5 * whole.box[0])
    assert whole.tag is None and np.array_equal(part.tag, rows) and 0 < rows.size < len(whole.x)
    for name in ("x", "image", "species", "v"):
        assert np.array_equal(getattr(part, name), getattr(whole, name)[rows]), name
    assert part.step == whole.step and np.array_equal(part.box, whole.box)


def test_last_frame_is_the_final_state_in_tag_order(run_file):
    state, _ = read_checkpoint(run_file.checkpoint.file, SerialComm())
    order = np.argsort(state.tag)
    frame = read_frame(run_file.output.file, -1)
    assert frame.step == state.step == 700
    assert np.array_equal(frame.x, state.x[order]) and np.array_equal(frame.image, state.image[order])
    assert np.array_equal(frame.v, state.v[order]) and np.array_equal(frame.species, state.typ[order])
    unwrapped = frame.x + frame.image * frame.box
    assert np.all((frame.x >= -0.2) & (frame.x < frame.box + 0.2)) and np.ptp(unwrapped) > 0


def test_provenance(run_file):
    with h5py.File(run_file.output.file, "r") as f:
        params = f[L.PARAMETERS]
        assert params[L.DECK][()].decode() == DECK
        commit = params.attrs[L.ATTR_GIT_COMMIT]  # -dirty: sources modified since that commit
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit) or commit == "unknown", commit
        assert params.attrs[L.ATTR_PACKAGE_VERSION] == __import__("pel_hpc").__version__


def test_mdanalysis_reads_our_positions_and_box(run_file, tmp_path):
    mda = pytest.importorskip("MDAnalysis", reason="MDAnalysis is not installed (pip install MDAnalysis)")
    from MDAnalysis.coordinates.H5MD import H5MDReader

    export_replica(run_file.output.file, tmp_path / "x.h5", 0, mdanalysis=True)
    reader = H5MDReader(str(tmp_path / "x.h5"), convert_units=False)
    with h5py.File(run_file.output.file, "r") as f:
        ours = f[L.element_path(0, L.POSITION)][L.VALUE][()]
        edges = f[L.box_path(0)][L.EDGES][()]
    assert reader.n_frames == len(ours) and reader.n_atoms == 65 and mda.__version__
    for k in (0, len(ours) - 1):
        ts = reader[k]
        assert np.allclose(ts.positions, ours[k], atol=1e-6 * edges[0])  # MDAnalysis stores float32
        assert np.allclose(ts.dimensions[:3], edges) and np.allclose(ts.dimensions[3:], 90.0)
        assert ts.data["step"] == 200 + 100 * k


def test_pyh5md_reads_our_file_as_written(run_file):
    pyh5md = pytest.importorskip("pyh5md", reason="pyh5md is not installed (pip install pyh5md)")
    from pel_hpc.io.checkpoint import read_checkpoint as read_chk

    with pyh5md.File(run_file.output.file, "r") as f:  # checks the h5md group, author and creator
        group = f.particles_group(L.replica_group(0))
        position = pyh5md.element(group, L.POSITION)
        species = pyh5md.element(group, L.SPECIES)
        assert isinstance(position, pyh5md.TimeElement) and isinstance(species, pyh5md.FixedElement)
        last = position.value[-1]
        assert position.step[-1] == 700 and np.isclose(position.time[-1], 3.5)
        edges = group[L.BOX][L.EDGES][()]
        assert np.allclose(edges, (65 / 1.2) ** (1 / 3)) and group[L.BOX].attrs["dimension"] == 3
    state, _ = read_chk(run_file.checkpoint.file, SerialComm())
    assert np.array_equal(last, state.x[np.argsort(state.tag)])


def test_export_of_one_replica(tmp_path):
    cfg = load_deck_text(tmp_path, DECK.replace("run: {name: out", "ensemble: {replicas: 3}\nrun: {name: ens"))
    w = H5MDWriter(cfg, SerialComm())
    tags = np.arange(65)
    w.create([3.78] * 3, {r: (tags, (tags >= 52).astype(np.int32)) for r in range(3)})
    w.append_particles(L.POSITION, 200, {r: (tags[::-1], np.full((65, 3), r + 0.5)) for r in range(3)})
    w.close()
    export_replica(cfg.output.file, tmp_path / "r2.h5", 2)
    with h5py.File(tmp_path / "r2.h5", "r") as f:
        assert list(f[L.PARTICLES]) == [L.replica_group(2)] and list(f[L.OBSERVABLES]) == [L.replica_group(2)]
        assert np.all(f[L.element_path(2, L.POSITION)][L.VALUE][()] == 2.5)
        assert f[L.element_path(2, L.POSITION)][L.STEP].id == f[L.element_path(2, L.IMAGE)][L.STEP].id
    with pytest.raises(DeckError, match=r"--replica 3: '.*' holds replicas 0 to 2"):
        export_replica(cfg.output.file, tmp_path / "r3.h5", 3)
    assert not (tmp_path / "r3.h5").exists() and not (tmp_path / "r3.h5.tmp").exists()
    before = (tmp_path / "r2.h5").read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):  # an existing file is kept
        export_replica(cfg.output.file, tmp_path / "r2.h5", 1)
    assert (tmp_path / "r2.h5").read_bytes() == before
    export_replica(cfg.output.file, tmp_path / "r2.h5", 1, overwrite=True)
    with h5py.File(tmp_path / "r2.h5", "r") as f:
        assert list(f[L.PARTICLES]) == [L.replica_group(1)]
    source = Path(cfg.output.file).read_bytes()
    with pytest.raises(OutputExistsError, match="being exported"):  # not even with overwrite
        export_replica(cfg.output.file, cfg.output.file, 0, overwrite=True)
    assert Path(cfg.output.file).read_bytes() == source
    with pytest.raises(InputFileError, match="does not exist"):
        export_replica(cfg.output.file, tmp_path / "no" / "r0.h5", 0)


def test_killed_run_file_reads_its_written_frames(tmp_path):
    """Rows are preallocated for the whole deck (6 position frames at steps 200..700); a run killed
    after its 3rd frame leaves 3 unwritten rows, which the readers skip, and a closed run trims them."""
    import shutil

    from pel_hpc.io.reader import describe, frame_info

    cfg = load_deck_text(tmp_path, DECK.replace("run: {name: out", "run: {name: kill"))
    w = H5MDWriter(cfg, SerialComm())
    tags = np.arange(65)
    w.create([3.78] * 3, {0: (tags, (tags >= 52).astype(np.int32))})
    for k, step in enumerate((200, 300, 400)):
        w.append_particles(L.POSITION, step, {0: (tags, np.full((65, 3), k + 0.25))})
        w.append_particles(L.IMAGE, step, {0: (tags, np.full((65, 3), k, np.int32))})
    w.flush()  # a checkpoint; then SIGKILL (the copy is the file as the kill leaves it)
    shutil.copy(cfg.output.file, tmp_path / "killed.h5")
    w.close()
    with h5py.File(tmp_path / "killed.h5", "r") as f:
        steps = f[L.element_path(0, L.POSITION)][L.STEP][()]
    assert steps.tolist() == [200, 300, 400] + [L.UNWRITTEN_STEP] * 3
    for path in (tmp_path / "killed.h5", cfg.output.file):
        assert frame_info(path)[1] == 3
        last = read_frame(path, -1)
        assert last.step == 400 and np.all(last.x == 2.25) and np.all(last.image == 2)
    assert "3 frames, steps 200…400" in describe(tmp_path / "killed.h5")
    with h5py.File(cfg.output.file, "r") as f:
        assert f[L.element_path(0, L.POSITION)][L.VALUE].shape == (3, 65, 3)


def load_deck_text(folder, text):
    (folder / "d.yaml").write_text(text)
    return load_deck(folder / "d.yaml")


def test_truncated_file_is_a_one_line_error(run_file, tmp_path):
    data = Path(run_file.output.file).read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="is not a readable HDF5 file"):
        read_frame(tmp_path / "cut.h5")
    out = subprocess.run([sys.executable, "-m", "pel_hpc", "info", str(tmp_path / "cut.h5")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == CorruptFileError.exit_code and out.stderr.count("\n") == 1
    for command in (["info"], ["export", "--overwrite"]):  # a missing file: one line, exit 3 (was a traceback)
        args = [*command[:1], str(tmp_path / "absent.h5"), *([str(tmp_path / "x.h5")] if command[0] == "export" else [])]
        out = subprocess.run([sys.executable, "-m", "pel_hpc", *args, *command[1:]], capture_output=True, text=True,
                             cwd=ROOT)
        assert out.returncode == InputFileError.exit_code
        assert out.stderr == f"pel-hpc: error: no such file: '{tmp_path / 'absent.h5'}'\n"


def test_bad_deck_at_the_command_line_writes_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text(DECK.replace("n: 65", "n: 65, densty: 1.2"))
    for command in ("run", "validate"):
        out = subprocess.run([sys.executable, "-m", "pel_hpc", command, str(tmp_path / "bad.yaml")],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2
        assert out.stderr == "pel-hpc: error: unknown key 'system.densty' (did you mean 'system.density'?)\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml"]


def test_ensemble_thermo_table_says_whose_it_is(tmp_path):
    """With several replicas the screen table is replica 0's (its rows equal replica 0's observables
    in the file, not replica 1's), and a line before it says so and where the others are; a
    single-replica run prints no such line."""
    import io

    deck = ("run: {{name: ens, seed: 4}}\nsystem: {{n: 65, cutoff: 1.8}}\nintegrator: {{temperature: 0.6}}\n"
            "stages: [{{name: production, steps: 100}}]\noutput: {{thermo: 50, positions: 100}}\n{extra}")
    for replicas in (1, 3):
        path = tmp_path / f"ens{replicas}.yaml"
        path.write_text(deck.format(extra=f"ensemble: {{replicas: {replicas}, ranks_per_replica: 1}}\n")
                        .replace("name: ens", f"name: ens{replicas}"))
        cfg = load_deck(path)
        out = io.StringIO()
        run_deck(cfg, SerialComm(), stream=out)
        lines = out.getvalue().splitlines()
        labels = [line for line in lines if line.startswith("# thermo table")]
        if replicas == 1:
            assert labels == []
            continue
        assert labels == [f"# thermo table of replica 0 of 3; every replica's observables are in {cfg.output.file} "
                          "under observables/replica_000 ... replica_002"]
        rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
        with h5py.File(cfg.output.file, "r") as f:
            for replica in (0, 1):
                epot = f[L.observable_path(replica, L.POTENTIAL_ENERGY)]
                steps = list(epot[L.STEP][()])
                printed = [float(r[3]) for r in rows]
                stored = [float(epot[L.VALUE][steps.index(int(r[0]))]) for r in rows]
                assert (np.allclose(printed, stored, atol=1e-6)) == (replica == 0)
