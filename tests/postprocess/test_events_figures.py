"""Fig. 4 / Fig. 11 commands on a synthetic ensemble written in our H5MD layout (wrapped positions + images)."""
import h5py
import numpy as np
import pytest

from pel_hpc.errors import CorruptFileError, InputFileError
from pel_hpc.io import layout
from postprocess.figures import fig04, fig11
from postprocess.ice import Ensemble, analyse, open_ensemble
from test_events_ice import ENSEMBLE, OPTIONS

REPLICAS = 6  # all of ENSEMBLE: with 3, no bin expected half a pair and Fig. 4 was empty
ARGS = ["--window", "1.0", "--jump", "0.4", "--lag", "4.0", "--d-bin", "0.5", "--rdf-frames", "8"]


def write_h5md(path):
    """The synthetic replicas as wrapped positions and images, names from pel_hpc.io.layout."""
    with h5py.File(path, "w") as f:
        for r in range(REPLICAS):
            times, x = ENSEMBLE.read(r)
            image = np.floor(x / ENSEMBLE.box).astype(np.int32)
            f[f"{layout.box_path(r)}/{layout.EDGES}"] = ENSEMBLE.box
            f[f"{layout.particles_path(r)}/{layout.SPECIES}"] = ENSEMBLE.types
            for element, value in [(layout.POSITION, x - image * ENSEMBLE.box), (layout.IMAGE, image)]:
                f[f"{layout.element_path(r, element)}/{layout.VALUE}"] = value
                f[f"{layout.element_path(r, element)}/{layout.TIME}"] = times
                f[f"{layout.element_path(r, element)}/{layout.STEP}"] = np.arange(len(times)) * 20
    return path


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    return write_h5md(tmp_path_factory.mktemp("ice") / "ice_synthetic.h5")


def test_reader_unwraps_the_replicas(h5file):
    ensemble = open_ensemble(h5file)
    assert ensemble.n_replicas == REPLICAS
    times, x = ensemble.read(1)
    np.testing.assert_allclose(x, ENSEMBLE.read(1)[1], atol=1e-12)
    np.testing.assert_array_equal(times, ENSEMBLE.read(1)[0])


def test_figures_are_written_and_match_the_in_memory_analysis(h5file, tmp_path):
    assert fig04.main([str(h5file), "--out", str(tmp_path), *ARGS]) == 0
    assert fig11.main([str(h5file), "--out", str(tmp_path), *ARGS]) == 0
    for name in ["fig04_ice_synthetic.png", "fig11_ice_synthetic.png"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = np.loadtxt(tmp_path / "ice_synthetic_events.csv", delimiter=",")
    assert f"source: {h5file}" in (tmp_path / "ice_synthetic_events.csv").read_text()
    expected = analyse(Ensemble(ENSEMBLE.types, ENSEMBLE.box, REPLICAS, ENSEMBLE.read), OPTIONS).stats
    np.testing.assert_allclose(table[:, 2], expected.n)
    np.testing.assert_allclose(table[:, 6], expected.tau12, rtol=1e-5, equal_nan=True)


def test_shell_option_reaches_the_rule_and_bad_options_are_refused(h5file, tmp_path, capsys):
    from pel_hpc.errors import DeckError
    from postprocess.command import run
    from postprocess.figures.fig04 import main

    with pytest.raises(SystemExit):  # argparse: not one of the choices
        main([str(h5file), "--out", str(tmp_path), "--shell", "B"])
    capsys.readouterr()
    # a DeckError: one line and its exit code through the commands' entry point
    assert run(main, "python -m postprocess.figures.fig04",
               [str(h5file), "--out", str(tmp_path), "--jump", "-1"]) == DeckError.exit_code
    err = capsys.readouterr().err.strip()
    assert "error: ICE options must be positive: jump" in err and "\n" not in err
    assert main([str(h5file), "--out", str(tmp_path), *ARGS, "--shell", "A"]) == 0
    assert "'shell_types': (0,)" in (tmp_path / "ice_synthetic_events.csv").read_text()


def test_missing_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(InputFileError, match="no such"):
        open_ensemble(tmp_path / "absent.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(CorruptFileError, match="foreign.h5"):
        open_ensemble(tmp_path / "foreign.h5")


def test_one_replica_and_an_empty_figure_are_refused_before_writing(tmp_path):
    """A one-replica file gave one event pair and, in Fig. 4, an empty plot, silently; now refused."""
    from pel_hpc.errors import DeckError

    with pytest.raises(DeckError, match="holds 1 replica: the structural-event analysis takes one event pair per"):
        analyse(Ensemble(ENSEMBLE.types, ENSEMBLE.box, 1, ENSEMBLE.read), OPTIONS)
    two = analyse(Ensemble(ENSEMBLE.types, ENSEMBLE.box, 2, ENSEMBLE.read), OPTIONS)
    drawable = fig04.drawn(two).any()  # whether 2 pairs expect half a pair in some bin of this small box
    few = two.stats.__class__(**{**two.stats.__dict__, "n_av": two.stats.n_av * 0.0})  # no bin expects any
    with pytest.raises(DeckError, match="Fig. 4 would be empty"):
        fig04.require_a_bin(two.__class__(**{**two.__dict__, "stats": few}))
    if drawable:
        fig04.require_a_bin(two)


def test_fig04_lower_error_bars_stop_at_zero():
    """An empty bin (ratio 0) carries the upper error of one pair; its bar went as far below 0."""
    bars = fig04.error_bars(np.array([0.0, 0.5, 2.0]), np.array([1.4, 0.7, 0.6]))
    np.testing.assert_array_equal(bars, [[0.0, 0.5, 0.6], [1.4, 0.7, 0.6]])
