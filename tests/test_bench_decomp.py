"""benchmarks/bench_decomp.py beyond two ranks (its 1- and 2-rank path runs in the SLURM job test,
tests/jobs/test_slurm.py): the table gains a column per rank count and the model is checked
against every measured rank count beyond its calibration.  Only that it runs and reports
consistently is tested; timings are the benchmark's business."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_decomp.py"


def run(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_COMM_WORLD", "PMIX_"))}
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, env=env,
                          timeout=900)


@pytest.mark.slow
def test_three_rank_counts_give_three_columns_and_a_check_of_the_model():
    out = run("--quick", "--part", "md", "--sizes", "8000", "--ranks", "3", "1", "2", "--no-lammps")
    assert out.returncode == 0, out.stderr
    words = [line.split() for line in out.stdout.splitlines()]
    assert next(w for w in words if w[:1] == ["ranks"]) == ["ranks", "1", "2", "3"]
    ours = next(w for w in words if w[:1] == ["pel_hpc"])
    one, three, speedup = float(ours[1]), float(ours[5]), float(ours[6].lstrip("("))  # 1 | 2 (s e) | 3 (s e)
    assert speedup == pytest.approx(three / one, abs=0.01)
    assert any(w[:4] == ["3-rank", "step", "beyond", "1/3"] for w in words)
    check = next(line for line in out.stdout.splitlines() if "check beyond the calibration, N=8000 on 3 ranks" in line)
    assert "measured" in check and "predicted" in check
    assert "LAMMPS" not in out.stdout.split("LAMMPS:")[1].split("\n", 1)[1]  # --no-lammps: no LAMMPS row


def test_refusals_name_the_problem():
    out = run("--ranks", "2", "4", "--no-lammps")
    assert out.returncode == 2 and "must include 1 and 2" in out.stderr
    out = run("--no-lammps", "--sizes", "1234")
    assert out.returncode == 2 and "invalid choice: 1234" in out.stderr
    env_missing = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                                 env=dict(os.environ, LMP="no-such-lammps-binary"), timeout=120)
    assert env_missing.returncode == 1 and "LAMMPS 'no-such-lammps-binary' not found" in env_missing.stderr
