"""Every post-processing command refuses bad input in one line, with a non-zero exit and no output.

A user on a login node gives a command a missing file, a truncated one, a text file or an HDF5 file
that is not ours: ``postprocess.command.run`` (the commands' ``__main__`` entry) must print one line
``python -m postprocess.<name>: error: ...`` naming the file, return the error's exit code, and the
``--out`` folder must not appear.
"""
import importlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from pel_hpc.errors import CorruptFileError, DeckError, InputFileError
from postprocess.command import run

FILE_COMMANDS = ["metabasins", "pel_fit", "figures.table1", "figures.fig01", "figures.fig02", "figures.fig03",
                 "ice", "figures.fig04", "figures.fig11", "crystal", "finite_size_table",
                 "figures.fig06", "figures.fig08", "figures.fig09", "figures.fig10"]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["a"] = np.arange(10.0)
    with h5py.File(d / "whole.h5", "w") as f:
        f["particles/replica_000/position/value"] = np.zeros((50, 65, 3))
    raw = (d / "whole.h5").read_bytes()
    (d / "truncated.h5").write_bytes(raw[: len(raw) // 3])
    (d / "text.h5").write_text("positions: not HDF5\n")
    return {"missing": (d / "missing.h5", InputFileError), "truncated": (d / "truncated.h5", CorruptFileError),
            "text": (d / "text.h5", CorruptFileError), "foreign": (d / "foreign.h5", CorruptFileError)}


def _one_line_refusal(capsys, module: str, argv, codes):
    prog = f"python -m postprocess.{module}"
    main = importlib.import_module(f"postprocess.{module}").main
    code = run(main, prog, [str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code in codes, (code, err)
    assert err.startswith(f"{prog}: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("kind", ["missing", "truncated", "text", "foreign"])
@pytest.mark.parametrize("module", FILE_COMMANDS)
def test_bad_input_file_is_one_line_and_writes_nothing(module, kind, bad_files, tmp_path, capsys):
    path, error = bad_files[kind]
    out = tmp_path / "out"
    err = _one_line_refusal(capsys, module, [path, "--out", out], {error.exit_code})
    assert path.name in err
    assert not out.exists()


def test_fig07_without_its_md_table_is_refused(bad_files, tmp_path, capsys):
    err = _one_line_refusal(capsys, "figures.fig07", [bad_files["foreign"][0], "--out", tmp_path / "o"],
                            {DeckError.exit_code, CorruptFileError.exit_code})
    assert not (tmp_path / "o").exists() and ("--md" in err or "foreign.h5" in err)


def test_report_without_a_study_folder_is_refused(tmp_path, capsys):
    err = _one_line_refusal(capsys, "report", [tmp_path / "nowhere", "--out", tmp_path / "report"],
                            {InputFileError.exit_code})
    assert "manifest" in err and not (tmp_path / "report").exists()


def test_an_md_deck_and_a_clm_scan_file_are_told_apart(capsys):
    """Each given to the other's command said "unknown key(s)"; now each names what it is and its command."""
    from pel_hpc.deck.validate import load_deck

    root = Path(__file__).resolve().parents[2]
    err = _one_line_refusal(capsys, "clm.scan", [root / "input" / "demo.yaml", "--out", "unused.h5"],
                            {DeckError.exit_code})
    assert "demo.yaml is an MD deck" in err and "pel-hpc run" in err and not Path("unused.h5").exists()
    with pytest.raises(DeckError, match=r"this is a CLM scan file .* python -m postprocess.clm.scan"):
        load_deck(root / "input" / "clm_scan.yaml")


@pytest.mark.parametrize("text, error", [(None, InputFileError), ("grid: [1\n", DeckError),
                                         ("grid: {temperature: [0.6]}\nbogus: 1\n", DeckError)])
def test_clm_scan_refuses_a_bad_scan_file(text, error, tmp_path, capsys):
    deck = tmp_path / "scan.yaml"
    if text is not None:
        deck.write_text(text)
    _one_line_refusal(capsys, "clm.scan", [deck, "--out", tmp_path / "clm.h5"], {error.exit_code})
    assert not (tmp_path / "clm.h5").exists()


@pytest.mark.parametrize("module, option, value", [
    ("metabasins", "--energy-tol", "-1"), ("pel_fit", "--bin-width", "0"), ("pel_fit", "--min-count", "-5"),
    ("crystal", "--frames", "0"), ("crystal", "--r-cut", "nan"), ("finite_size_table", "--k", "-3"),
    ("figures.fig02", "--kc", "0"), ("figures.fig01", "--energy-tol", "x"), ("figures.fig08", "--q-ref", "-0.1")])
def test_an_impossible_option_value_is_refused_before_reading(module, option, value, bad_files, tmp_path, capsys):
    """argparse's usage line, then one error line naming the option; exit 2; nothing read or written
    (the input here is missing, yet the option is what is reported)."""
    main = importlib.import_module(f"postprocess.{module}").main
    with pytest.raises(SystemExit) as info:
        run(main, f"python -m postprocess.{module}", [str(bad_files["missing"][0]), "--out", str(tmp_path / "o"),
                                                     option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and err[-1].startswith(f"python -m postprocess.{module}: error: argument {option}")
    assert not (tmp_path / "o").exists()


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """``python -m postprocess.… | head``: when the reader stops, the command ends with exit 141 (as if
    killed by SIGPIPE) and no error line, instead of "error: [Errno 32] Broken pipe"."""
    import subprocess
    import sys

    script = ("import sys\nfrom postprocess.command import run\n"
              "def main(argv):\n    for k in range(200000):\n        print('line', k)\n    return 0\n"
              "sys.exit(run(main, 'prog'))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=str(Path(__file__).resolve().parents[2]))
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


@pytest.fixture(scope="module")
def runs_without_structures(tmp_path_factory):
    """Two real 65-particle runs of ours: one that made no quench, one that quenched every 50 steps but
    stored no IS positions (both defaults of a deck: quench.every 0, output.is_positions 0)."""
    from pel_hpc import cli

    d = tmp_path_factory.mktemp("runs")
    for name, quench in (("plain", ""), ("quenched", "quench: {every: 50}\n")):
        (d / f"{name}.yaml").write_text(f"run: {{name: {name}}}\nsystem: {{n: 65, cutoff: 1.8}}\n"
                                        f"integrator: {{temperature: 0.6}}\nstages: [{{name: s, steps: 100}}]\n"
                                        f"output: {{thermo: 50, positions: 50}}\n{quench}")
        assert cli.main(["run", str(d / f"{name}.yaml")]) == 0
    return d / "plain.h5", d / "quenched.h5"


@pytest.mark.parametrize("module", ["metabasins", "pel_fit", "figures.fig01"])
def test_a_run_without_quenches_is_named_as_such(module, runs_without_structures, tmp_path, capsys):
    """Before, the message read as if the file were not ours ("has no 'observables/...' (not a pel_hpc
    H5MD file, or not written)"), and metabasins had already made its --out folder."""
    plain, _ = runs_without_structures
    out = tmp_path / "out"
    err = _one_line_refusal(capsys, module, [plain, "--out", out], {CorruptFileError.exit_code})
    assert "plain.h5' holds no inherent structures" in err and "quench.every: 0" in err
    assert not out.exists()


def test_missing_is_positions_and_metabasins_never_left_are_named(runs_without_structures, tmp_path, capsys):
    _, quenched = runs_without_structures
    err = _one_line_refusal(capsys, "figures.fig01", [quenched, "--out", tmp_path / "f"], {CorruptFileError.exit_code})
    assert "holds no inherent-structure positions" in err and "output.is_positions: 0" in err
    # one metabasin for all three inherent structures (an energy tolerance wider than any gap): none
    # is completed, so there are no waiting times to fit (before: a numpy traceback)
    err = _one_line_refusal(capsys, "pel_fit", [quenched, "--out", tmp_path / "p", "--energy-tol", "1e9"],
                            {DeckError.exit_code})
    assert "has no completed metabasin" in err and "3 inherent structure(s)" in err
    assert not (tmp_path / "f").exists() and not (tmp_path / "p").exists()


def test_finite_size_table_names_a_run_too_short_for_the_msd_fit(runs_without_structures, tmp_path, capsys):
    plain, _ = runs_without_structures  # positions every 0.25 tau over 0.5 tau: no lag in 10-30 % of it
    err = _one_line_refusal(capsys, "finite_size_table", [plain, "--out", tmp_path / "t"], {DeckError.exit_code})
    assert "plain.h5': KWW fit: fewer than 3 points" in err  # before: no file named
    assert "(0.5 tau of positions, stored every 0.25 tau; D is fitted in 10-30 % of it)" in err
    assert not (tmp_path / "t").exists()
