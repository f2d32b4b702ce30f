"""End-to-end: a tiny campaign through jobs/study_laptop.py; the report's numbers come from that very run.

The campaign (two 65-particle IS runs, T = 0.7 and 0.8, 100 τ each) is written into a temporary folder,
run by the study driver on 2 cores, post-processed and reported.  The test then re-derives Table I with
:mod:`postprocess.pel_fit` from the files the report names, checks those files are the ones in the
temporary run (SHA-256 recomputed here, no file of the repository involved), that every figure's source
table names them too, and that the decks and temperatures in the report are the run's own.
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from postprocess.pel_fit import energy_edges, fit_pel, sets_from_files

ROOT = Path(__file__).resolve().parents[1]
DECK = """run: {{name: ka65_T{T}, seed: {seed}}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: {T}}}
stages:
  - {{name: equilibration, steps: 2000, output: false}}
  - {{name: production, steps: 20000}}
quench: {{every: 50}}
output: {{thermo: 5000, positions: 50, is_positions: 50}}
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    decks = root / "decks"
    decks.mkdir()
    for seed, t in ((5, "0.70"), (6, "0.80")):
        (decks / f"ka65_T{t}.yaml").write_text(DECK.format(T=t, seed=seed))
    proc = subprocess.run([sys.executable, str(ROOT / "jobs" / "study_laptop.py"), "--root", str(root), "--decks",
                           str(decks), "--np", "2", "--every", "30", "--skip", "fig02,fig03,metabasins"],
                          capture_output=True, text=True, timeout=600)
    return root, proc


def table_after(md: str, heading: str) -> list:
    """Rows (lists of cells) of the first Markdown table after ``heading``."""
    rest = md[md.index(heading):]
    lines = [ln for ln in rest.splitlines() if ln.startswith("|")]
    block = []
    for ln in rest.splitlines()[rest.splitlines().index(lines[0]):]:
        if not ln.startswith("|"):
            break
        block.append([c.strip() for c in ln.strip("|").split("|")])
    return block[2:]


def test_driver_reports_progress_and_succeeds(study):
    root, proc = study
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\[study +[\d.]+ s\] start ka65_T0\.70", proc.stdout)
    assert re.search(r"done report", proc.stdout)
    assert (root / "report" / "index.html").read_text().count("<img") >= 2


def test_table1_in_report_is_refitted_from_the_run_files(study):
    root, _ = study
    md = (root / "report" / "index.md").read_text()
    sources = table_after(md, "Made by `python -m postprocess.figures.table1")
    files = [Path(r[4]) for r in sources]
    assert sorted(f.name for f in files) == ["ka65_T0.70.h5", "ka65_T0.80.h5"]
    for row, f in zip(sources, files):
        assert root in f.parents                                  # produced by this run, not shipped
        assert row[5] == hashlib.sha256(f.read_bytes()).hexdigest()[:16]
        assert float(row[2]) == yaml.safe_load((root / "runs/study" / f.stem / "deck.yaml").read_text())[
            "integrator"]["temperature"]
    sets, _ = sets_from_files([str(f) for f in files])
    fit = fit_pel(sets, energy_edges(sets, 1.0), min_count=20)
    ours = {r[0]: float(r[2].split("±")[0]) for r in table_after(md, "## Table I")}
    p = fit.params
    expect = {"σ": p.sigma, "λ": p.lam, "κ": p.kappa, "Γ0": p.gamma0, "σ_γ": p.sigma_gamma,
              "e_c − e0": p.e_c - p.e0, "e_cut − e0": p.e_cut - p.e0}
    for name, value in expect.items():
        assert ours[name] == pytest.approx(value, rel=1e-3, abs=1e-3), name


def test_every_figure_names_the_run_files(study):
    root, _ = study
    md = (root / "report" / "index.md").read_text()
    fig1 = table_after(md, "### Fig. 1 ")
    assert sorted(Path(r[4]).name for r in fig1) == ["ka65_T0.70.h5", "ka65_T0.80.h5"]
    assert all(r[3].startswith(str(root / "decks")) for r in fig1)         # the deck each run came from
    assert (root / "report" / "figures" / "fig01_fig01.png").stat().st_size > 1000
    crystal = table_after(md, "## Crystallisation watch")
    assert {r[0] for r in crystal} == {"ka65_T0.70", "ka65_T0.80"}
    assert "Not produced" in md[md.index("### Fig. 2 "):md.index("### Fig. 3 ")]  # skipped, and said so
    assert np.isfinite([float(r[2]) for r in fig1]).all()


def test_resume_keeps_finished_runs_and_only_reports_again(study):
    root, _ = study
    run = root / "runs" / "study" / "ka65_T0.70" / "ka65_T0.70.h5"
    digest = hashlib.sha256(run.read_bytes()).hexdigest()
    proc = subprocess.run([sys.executable, str(ROOT / "jobs" / "study_laptop.py"), "--root", str(root), "--decks",
                           str(root / "decks"), "--resume", "--skip", "fig02,fig03,metabasins"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    started = re.findall(r"\] start (\S+)", proc.stdout)
    assert started == ["report"]
    assert hashlib.sha256(run.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("kill", [os.killpg, os.kill], ids=["ctrl-c", "kill-int"])
def test_ctrl_c_stops_the_runs_and_says_how_to_resume(tmp_path, kill):
    """Ctrl-C in a terminal (SIGINT to the driver's whole process group, its runs included) or ``kill -INT``
    of the driver alone: the runs checkpoint and stop (the latter on the driver's SIGTERM after a grace
    time), the driver records them as interrupted and ends with exit 130 and one line saying how to
    resume, and no process of the study is left running.  It ended in a KeyboardInterrupt traceback, and
    after ``kill -INT`` its runs went on orphaned."""
    decks = tmp_path / "decks"
    decks.mkdir()
    (decks / "ka65_T0.80.yaml").write_text(DECK.format(T="0.80", seed=6).replace("20000}", "20000000}"))
    # a terminal's Ctrl-C reaches a driver whose SIGINT is at its default: a suite started in the
    # background of a non-interactive shell (`( make test & )`) hands SIG_IGN down, which Python keeps
    proc = subprocess.Popen([sys.executable, str(ROOT / "jobs" / "study_laptop.py"), "--root", str(tmp_path),
                             "--decks", str(decks), "--np", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        for line in proc.stdout:  # wait until the run is under way
            lines.append(line)
            if "] start ka65_T0.80" in line:
                break
        time.sleep(3.0)
        kill(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        left = subprocess.run(["pkill", "-f", str(tmp_path)], capture_output=True).returncode == 0
    out = "".join(lines) + out
    assert not left, "a process of the study was still running"
    assert proc.returncode == 130, out[-3000:]
    assert "Traceback" not in out and "interrupted: 0 of " in out and "--resume" in out.splitlines()[-1]
    manifest = json.loads((tmp_path / "runs" / "study" / "manifest.json").read_text())
    assert {s["name"]: s["status"] for s in manifest["steps"]}["ka65_T0.80"] == "interrupted"


@pytest.mark.parametrize("args, named", [(["--np", "0"], "--np"), (["--scale", "-1"], "--scale"),
                                         (["--every", "0"], "--every"), (["--decks", "/nonexistent"], "--decks"),
                                         (["--skip", "fig02,fgi03"], "fgi03")])
def test_driver_refuses_impossible_options_before_starting(args, named, tmp_path):
    """Each of these ran before (np 0 without a core limit, every 0 printing without pause, a mistyped
    --skip ignored, a missing --decks or a non-positive --scale failing every run): now argparse's error
    line names the option, exit 2, and nothing is created."""
    proc = subprocess.run([sys.executable, str(ROOT / "jobs" / "study_laptop.py"), "--root", str(tmp_path / "r"),
                           *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and named in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "r").exists()
