"""Job scripts without SLURM: syntax, the campaign's dependency graph, per-task decks, and the
launcher's restart-if-checkpoint logic run as a plain shell (SLURM_NTASKS=1)."""
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from pel_hpc.deck.derive import derive
from pel_hpc.errors import DeckError

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "jobs").glob("*.sbatch")) + [ROOT / "jobs" / "common.sh", ROOT / "jobs" / "campaign_paper.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_syntax(script):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_the_launcher_lists_every_exit_code():
    """The exit codes a job script may see, listed in common.sh's header, are those of pel_hpc/errors.py."""
    from pel_hpc import errors

    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.PelError) and cls is not errors.PelError}
    header = (ROOT / "jobs" / "common.sh").read_text().split("PEL_ROOT=")[0]
    block = header.split("Exit codes of pel-hpc")[1]
    assert codes <= {int(c) for c in re.findall(r"(?<![\w.])(\d+) [a-z]", block)}


def test_sbatch_headers_signal_requeue():
    """Production jobs checkpoint on the warning signal and requeue; post-processing and the
    benchmark (a run cut short is run again, its timings would mix two allocations) do not."""
    for script in (ROOT / "jobs").glob("*.sbatch"):
        text = script.read_text()
        if script.name in ("postprocess.sbatch", "bench.sbatch"):
            assert "#SBATCH --requeue" not in text, script.name
        else:
            assert "#SBATCH --signal=B:USR1@" in text and "#SBATCH --requeue" in text, script.name
            assert "pel_launch" in text


def test_campaign_dry_run_orders_post_processing_after_production():
    # given rates: the graph, not a timed calibration under whatever load the test machine has
    env = dict(os.environ, PEL_RATES="65:100000,1040:2000,quench65:0.003")
    out = subprocess.run(["bash", str(ROOT / "jobs" / "campaign_paper.sh"), "--dry-run"], capture_output=True,
                         text=True, cwd=ROOT, env=env)
    lines = [line for line in out.stderr.splitlines() if line.startswith("sbatch")]
    assert out.returncode == 0 and len(lines) == 5, out.stderr
    argv = [shlex.split(line) for line in lines]  # each printed line runs as printed (NS lists keep their spaces)
    assert argv[1][4:] == ["--array=0-5", "--export=ALL,NS=65 130 260 520 1040 2080", "jobs/finite_size.sbatch"]
    assert argv[3][2:] == ["--array=0-3", "jobs/ice520.sbatch"]  # one-deck campaign, no dependency
    assert argv[4][2:4] == ["--dependency=afterok:<ka65>:<fsize_small>:<fsize_large>:<ice520>",
                            "jobs/postprocess.sbatch"]


def test_derive_sets_keys_and_anchors_paths(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "d.yaml").write_text(
        "system: {n: 65, cutoff: 1.8}\nintegrator: {temperature: 0.5}\nstages: [{name: p, steps: 10}]\n")
    out = derive(tmp_path / "src" / "d.yaml", tmp_path / "run" / "deck.yaml", ["run.seed=7", "run.name=t7"])
    data = yaml.safe_load(out.read_text())
    assert data["run"] == {"seed": 7, "name": "t7"} and data["system"]["n"] == 65
    with pytest.raises(DeckError, match="unknown key 'run.sed'"):
        derive(tmp_path / "src" / "d.yaml", tmp_path / "bad" / "deep" / "deck.yaml", ["run.sed=7"])
    assert not (tmp_path / "bad").exists()  # not even the run folder
    with pytest.raises(DeckError, match="cannot read deck .*missing.yaml"):  # was a traceback
        derive(tmp_path / "src" / "missing.yaml", tmp_path / "run2" / "deck.yaml")
    (tmp_path / "src" / "broken.yaml").write_text("system: {n: 65\n")
    with pytest.raises(DeckError, match="YAML syntax error"):
        derive(tmp_path / "src" / "broken.yaml", tmp_path / "run3" / "deck.yaml")
    assert not (tmp_path / "run2").exists() and not (tmp_path / "run3").exists()


def test_launcher_restarts_when_a_checkpoint_exists(tmp_path):
    (tmp_path / "d.yaml").write_text("run: {name: d}\nsystem: {n: 65, cutoff: 1.8}\n"
                                     "integrator: {temperature: 0.6}\nstages: [{name: p, steps: 200}]\n"
                                     "output: {thermo: 100, positions: 100}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SLURM_NTASKS="1", PEL_ROOT=str(ROOT), PEL_MPIRUN_FLAGS="--oversubscribe")
    command = f"source {ROOT}/jobs/common.sh && pel_launch {tmp_path}/d.yaml"
    first = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "continuing" not in first.stdout and (tmp_path / "d.chk.h5").exists()
    second = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert "continuing" in second.stdout  # the final checkpoint marks the run done: nothing left to run


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_launcher_gives_each_rank_the_cores_of_run_threads(tmp_path):
    """A deck with run.threads: 2 runs under pel_launch: mpirun maps the rank onto 2 cores (bound to
    one core, as by default, pel-hpc refuses to start: its affinity mask would hold 1 CPU)."""
    (tmp_path / "d.yaml").write_text("run: {name: d, threads: 2}\nsystem: {n: 1040}\n"
                                     "integrator: {temperature: 0.6}\nstages: [{name: p, steps: 20}]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "NUMBA_NUM_THREADS"}
    env.update(SLURM_NTASKS="1", PEL_ROOT=str(ROOT), PEL_MPIRUN_FLAGS="--oversubscribe")
    out = subprocess.run(["bash", "-c", f"source {ROOT}/jobs/common.sh && pel_launch {tmp_path}/d.yaml"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "d.h5").exists()


def test_md_job_without_a_deck_says_how_to_call_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SLURM_NTASKS="1", PEL_ROOT=str(ROOT))
    out = subprocess.run(["bash", str(ROOT / "jobs" / "md.sbatch")], capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "usage: sbatch -n <ranks> jobs/md.sbatch DECK.yaml" in out.stderr
