"""benchmarks/bench_decomp.py beyond two ranks (its 1- and 2-rank path runs in the SLURM job test,
tests/jobs/test_slurm.py): the table gains a column per rank count and the model is checked
against every measured rank count beyond its calibration.  Only that it runs and reports
consistently is tested; timings are the benchmark's business."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert [w[5] for w in words if w[:5] == ["force-time", "imbalance", "per", "step", "on"]] == ["2", "3"]
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


def test_imbalance_statistics_recover_a_known_autoregressive_process():
    """Force times whose log deviation between two ranks is AR(1) with φ = 0.7: the spread, the
    autocorrelation φ^lag and the residual of the 5-step-mean predictor (computed here from the
    process's own formula) come back; the wait is the mean excess of the slower rank."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT / "benchmarks" / "lammps"))
    import bench_decomp

    rng, phi, sigma, n = np.random.default_rng(7), 0.7, 0.05, 100_000
    x = np.zeros(n)  # rank 0 runs exp(x), rank 1 exp(-x) times the same 1 ms: d = ±x
    for k in range(1, n):
        x[k] = phi * x[k - 1] + sigma * rng.normal()
    times = 1e-3 * np.exp(np.stack([x, -x]))
    s = bench_decomp.imbalance_stats(times)
    stationary = sigma / np.sqrt(1 - phi**2)
    assert s["spread"] == pytest.approx(stationary, rel=0.03)
    assert s["autocorr"]["1"] == pytest.approx(phi, abs=0.02)
    assert s["autocorr"]["10"] == pytest.approx(phi**10, abs=0.02)
    # x_k - mean(x_{k-5..k-1}): variance from the AR(1) autocovariance γ(l) = stationary² φ^|l|
    lags = np.arange(1, 6)
    gamma = lambda lag: stationary**2 * phi ** np.abs(lag)  # noqa: E731
    var = gamma(0) - 2 * gamma(lags).mean() + np.mean([[gamma(i - j) for j in lags] for i in lags])
    assert s["residual"] == pytest.approx(np.sqrt(var), rel=0.03)
    assert s["wait"] == pytest.approx(np.mean(1e-3 * (np.exp(np.abs(x)) - np.cosh(x))), rel=1e-9)
