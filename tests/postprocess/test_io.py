"""Tests of postprocess.io and the metabasins command on a synthetic H5MD file (layout names)."""
import h5py
import numpy as np
import pytest

from pel_hpc.errors import CorruptFileError, InputFileError
from pel_hpc.io import layout as L
from postprocess import io as pio
from postprocess.metabasins import main as metabasins_main

DECK = "run: {name: synth}\nintegrator: {temperature: 0.55}\n"


def write_synthetic(path, e_is, x_md, image, x_is, box, species):
    """A minimal pel_hpc-layout file: IS energies, positions + images, IS positions, deck."""
    with h5py.File(path, "w") as f:
        f.create_group(L.PARAMETERS).create_dataset(L.DECK, data=DECK)
        f[L.PARAMETERS].attrs[L.ATTR_GIT_COMMIT] = "abc"
        f[f"{L.box_path(0)}/{L.EDGES}"] = box
        f[f"{L.particles_path(0)}/{L.SPECIES}"] = species
        steps = np.arange(len(e_is)) * 100
        for path_, val in ((L.observable_path(0, L.IS_ENERGY), e_is), (L.element_path(0, L.POSITION), x_md),
                           (L.element_path(0, L.IMAGE), image), (L.element_path(0, L.INHERENT_STRUCTURE), x_is)):
            g = f.create_group(path_)
            g[L.STEP], g[L.TIME], g[L.VALUE] = steps, steps * 0.005, val


@pytest.fixture
def synthetic(tmp_path):
    rng = np.random.default_rng(31)
    n, frames, box = 5, 7, np.full(3, 3.0)
    x_unwrapped = np.cumsum(rng.normal(0, 0.4, (frames, n, 3)), axis=0) + 1.5
    image = np.floor(x_unwrapped / box).astype(np.int32)
    x_md = x_unwrapped - image * box
    x_is = (x_unwrapped + rng.normal(0, 0.05, x_unwrapped.shape)) % box
    e_is = np.array([-10.0, -9.0, -10.0, -12.0, -11.5, -12.0, -8.0]) / n
    path = tmp_path / "synth.h5"
    write_synthetic(path, e_is, x_md, image, x_is, box, np.zeros(n, np.int32))
    return path, x_unwrapped


def test_reader_units_provenance_and_unwrapping(synthetic):
    path, x_unwrapped = synthetic
    traj = pio.read_inherent_structures(path)
    assert traj.temperature == 0.55 and traj.n_particles == 5
    np.testing.assert_allclose(traj.energy_total, [-10, -9, -10, -12, -11.5, -12, -8])
    assert traj.provenance["git_commit"] == "abc" and "integrator" in traj.provenance["deck"]
    _, _, x = pio.read_positions(path)
    np.testing.assert_allclose(x, x_unwrapped)
    _, _, x_is = pio.read_is_positions(path)
    assert np.max(np.abs(x_is - x_unwrapped)) < 0.5  # unwrapped next to the MD positions


def test_metabasins_command_writes_h5_and_csv(synthetic, tmp_path):
    path, _ = synthetic
    assert metabasins_main([str(path), "--out", str(tmp_path / "out")]) == 0
    arrays, attrs = pio.read_metabasins(tmp_path / "out" / "synth_mb.h5")
    assert arrays["start"].tolist() == [0, 3, 6] and arrays["energy"].tolist() == [-10.0, -12.0, -8.0]
    assert arrays["waiting_time"] == pytest.approx([1.5, 1.5, 0.5])
    assert attrs["temperature"] == 0.55 and attrs["source_file"].endswith("synth.h5")
    assert (tmp_path / "out" / "synth_mb.csv").read_text().startswith("# metabasins of")


def test_bad_files_raise_typed_errors(tmp_path):
    with pytest.raises(InputFileError):
        pio.read_inherent_structures(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(CorruptFileError):
        pio.read_inherent_structures(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(CorruptFileError):
        pio.read_inherent_structures(tmp_path / "empty.h5")


def test_metabasins_of_dotted_file_names_do_not_collide(synthetic, tmp_path):
    """ka65_T0.60.h5 and ka65_T0.70.h5 must give two MB files, not one 'ka65_T0.h5'."""
    path, _ = synthetic
    for name in ("ka65_T0.60.h5", "ka65_T0.70.h5"):
        (tmp_path / name).write_bytes(path.read_bytes())
        assert metabasins_main([str(tmp_path / name), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.h5")) == ["ka65_T0.60_mb.h5", "ka65_T0.70_mb.h5"]


def test_every_replica_of_an_ensemble_file_is_analysed(synthetic, tmp_path):
    """A file with two replicas gives one MB result per replica and one pooled Table I set."""
    from postprocess.pel_fit import sets_from_files

    path, _ = synthetic
    e_r1 = np.array([-7.0, -7.0, -9.0, -9.0, -6.0, -6.0, -5.0]) / 5
    with h5py.File(path, "a") as f:
        f.copy(f[L.particles_path(0)], L.particles_path(1))
        f.copy(f[f"{L.OBSERVABLES}/{L.replica_group(0)}"], f"{L.OBSERVABLES}/{L.replica_group(1)}")
        f[f"{L.observable_path(1, L.IS_ENERGY)}/{L.VALUE}"][...] = e_r1
    assert pio.replicas(path) == [0, 1]
    assert metabasins_main([str(path), "--out", str(tmp_path / "out")]) == 0
    r0, _ = pio.read_metabasins(tmp_path / "out" / "synth_r000_mb.h5")
    r1, _ = pio.read_metabasins(tmp_path / "out" / "synth_r001_mb.h5")
    assert r0["energy"].tolist() == [-10.0, -12.0, -8.0]
    assert r1["energy"].tolist() == [-7.0, -9.0, -6.0, -5.0]
    (beta, energy, tau), = sets_from_files([str(path)])[0]
    # completed MBs only (first and last are censored): -12 from replica 0; -9, -6 from replica 1
    assert beta == pytest.approx(1 / 0.55) and sorted(energy.tolist()) == [-12.0, -9.0, -6.0]
    assert tau.size == 3


def test_trailing_unwritten_rows_of_a_killed_run_are_not_read(synthetic):
    """A run killed between block writes leaves preallocated rows with step = UNWRITTEN_STEP."""
    path, x_unwrapped = synthetic
    with h5py.File(path, "a") as f:
        for name in (L.observable_path(0, L.IS_ENERGY), L.element_path(0, L.POSITION), L.element_path(0, L.IMAGE),
                     L.element_path(0, L.INHERENT_STRUCTURE)):
            g = f[name]
            for key in (L.STEP, L.TIME, L.VALUE):
                data = g[key][()]
                pad = np.full((3,) + data.shape[1:], L.UNWRITTEN_STEP if key == L.STEP else 0, dtype=data.dtype)
                del g[key]
                g[key] = np.concatenate([data, pad])
    traj = pio.read_inherent_structures(path)
    assert traj.step.size == 7 and traj.step[-1] == 600
    t, step, x = pio.read_positions(path)
    assert step.size == 7 and np.allclose(x, x_unwrapped)
    assert pio.read_positions(path, frames=slice(-2, None))[1].tolist() == [500, 600]
    assert pio.read_is_positions(path)[1].size == 7
