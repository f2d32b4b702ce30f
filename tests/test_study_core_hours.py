"""Core-hour estimate of the paper campaign: arithmetic from the decks, and the dry-run lists every job."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import core_hours as C  # noqa: E402

RATES = {65: 10000.0, 1040: 500.0, "quench65": 0.02}


def test_ka65_cost_is_steps_over_speed_plus_quenches():
    doc = yaml.safe_load((ROOT / "input" / "ka65_T0.50.yaml").read_text())
    steps = sum(s["steps"] for s in doc["stages"])
    expect = steps / 1e4 + steps // doc["quench"]["every"] * 0.02
    assert C.replica_seconds(C.deck_numbers("ka65_T0.50"), RATES, 0.85) == pytest.approx(expect)


def test_two_ranks_halve_the_wall_time_at_the_given_efficiency_and_core_hours_count_both():
    d = dict(C.deck_numbers("finite_size_N8320"), ranks_per_replica=2)
    one = C.replica_seconds(dict(d, ranks_per_replica=1), RATES, 0.85)
    assert C.replica_seconds(d, RATES, 0.85) == pytest.approx(one / (2 * 0.85))
    row = next(r for r in C.table(RATES, 0.85) if r[1] == "finite_size_N8320")
    assert row[5] == pytest.approx(2 * row[4])


def test_dry_run_lists_every_job_with_resources_and_core_hours():
    env = dict(os.environ, PEL_RATES="65:10000,1040:500,quench65:0.02")
    out = subprocess.run(["bash", str(ROOT / "jobs" / "campaign_paper.sh"), "--dry-run"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    for job, decks, _, _ in C.JOBS:
        assert "sbatch --parsable" in out.stderr and job in out.stdout
        for deck in decks:
            assert deck in out.stdout
    total = float(next(ln for ln in out.stdout.splitlines() if ln.startswith("total")).split()[1])
    assert total == pytest.approx(sum(r[-1] for r in C.table({65: 1e4, 1040: 500.0, "quench65": 0.02}, 0.85)), rel=1e-3)


def test_ice_campaign_pays_its_preparation_on_every_rank_of_the_task():
    """The N = 65 preparation runs before the ensemble while the task's other ranks wait."""
    d = C.deck_numbers("ice520")
    assert d["n"] == 520 and d["preparation"]["n"] == 65 and d["preparation"]["steps"] > 0
    row = next(r for r in C.table(RATES, 0.85) if r[1] == "ice520")
    ranks = row[3]
    production = C.replica_seconds(d, RATES, 0.85) * max(d["replicas"] // ranks, 1) / 3600
    assert row[4] == pytest.approx(production + C.replica_seconds(d["preparation"], RATES, 0.85) / 3600)
    assert row[5] == pytest.approx(ranks * row[4])
