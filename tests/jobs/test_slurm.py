"""The sbatch scripts under a real single-node SLURM: a job runs pel_hpc under mpirun and writes
its file; a job warned with USR1 checkpoints (exit 75), requeues itself and completes from the
checkpoint with every frame once; the benchmark job reports on every rank count."""
import os
import shutil
import socket
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from slurm_cluster import SlurmCluster, missing_reason

ROOT = Path(__file__).resolve().parents[2]
DECK = """run: {{name: job, seed: 9}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: 0.6}}
stages:
  - {{name: equilibration, steps: 100, output: false}}
  - {{name: production, steps: {steps}}}
quench: {{every: 500}}
output: {{thermo: 500, positions: 500}}
ensemble: {{replicas: 2, ranks_per_replica: 1}}
"""

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        yield c.start()
    finally:
        c.stop()


def submit(cluster, folder, steps, **env):
    (folder / "job.yaml").write_text(DECK.format(steps=steps))
    return cluster.sbatch("-n", "2", f"--chdir={folder}", f"--output={folder}/slurm-%j.out",
                          str(ROOT / "jobs" / "md.sbatch"), str(folder / "job.yaml"),
                          env={"PEL_ROOT": str(ROOT), **env})


def frames(path):
    with h5py.File(path, "r") as f:
        return [f[f"particles/replica_{r:03d}/position/step"][()] for r in range(2)]


def test_job_runs_pel_hpc_under_mpirun_and_writes_its_file(cluster, tmp_path):
    job = submit(cluster, tmp_path, 2000)
    info = cluster.wait(job)
    log = (tmp_path / f"slurm-{job}.out").read_text()
    assert info["JobState"] == "COMPLETED", log + cluster.logs()
    assert info["NumTasks"] == "2"
    for steps in frames(tmp_path / "job.h5"):
        assert np.array_equal(steps, np.arange(500, 2101, 500))
    with h5py.File(tmp_path / "job.h5", "r") as f:
        assert f["parameters"].attrs["n_ranks"] == 2


def test_usr1_checkpoints_requeues_and_completes(cluster, tmp_path):
    # long enough (~5 s of production here) that the warning lands mid-run: 12000 steps once ended
    # before scancel's USR1 arrived
    job = submit(cluster, tmp_path, 120000)
    cluster.wait(job, states=("RUNNING",), timeout=120)
    log_file = tmp_path / f"slurm-{job}.out"
    while not log_file.exists() or "# production: step" not in log_file.read_text():  # mid-production
        assert cluster.state(job)["JobState"] == "RUNNING"
        time.sleep(0.2)
    cluster.run("scancel", "--batch", "--signal=USR1", str(job))
    cluster.wait(job, states=("PENDING", "COMPLETED", "FAILED"), timeout=120)
    # a requeued job waits out the credential lifetime (cred_expire, 10 s in this cluster's
    # slurm.conf) before it starts again; forcing StartTime=now raced slurmd's credential revocation
    info = cluster.wait(job, timeout=400)
    log = log_file.read_text()
    assert info["JobState"] == "COMPLETED", log + cluster.logs()
    assert "checkpointed; requeueing" in log and "continuing" in log
    assert int(info.get("Restarts", "0")) >= 1
    for steps in frames(tmp_path / "job.h5"):
        assert np.array_equal(steps, np.arange(500, 120101, 500))  # every frame once across the requeue


def submit_bench(cluster, folder, *args):
    folder.mkdir(exist_ok=True)
    return cluster.sbatch("-n", "2", f"--chdir={folder}", f"--output={folder}/slurm-%j.out",
                          str(ROOT / "jobs" / "bench.sbatch"), *args,
                          env={"PEL_ROOT": str(ROOT), "PEL_BENCH_RESULTS": str(folder / "results")})


def test_benchmark_job_runs_every_rank_count_and_writes_its_report_once_complete(cluster, tmp_path):
    """jobs/bench.sbatch on 2 tasks: bench_decomp's MD part on 1 and 2 ranks bound to cores (20
    steps: that it runs and reports, not its figures), the report moved into place at the end; an
    option bench_decomp refuses fails the job and leaves no report, not even a partial one."""
    lammps = [] if shutil.which(os.environ.get("LMP") or "lmp") else ["--no-lammps"]
    job = submit_bench(cluster, tmp_path, "--quick", "--part", "md", "--sizes", "8000", *lammps)
    info = cluster.wait(job, timeout=600)
    log = (tmp_path / f"slurm-{job}.out").read_text()
    assert info["JobState"] == "COMPLETED", log + cluster.logs()
    [report] = (tmp_path / "results").iterdir()
    assert report.name == f"bench_decomp_{socket.gethostname().split('.')[0]}_{job}.txt"
    text = report.read_text()
    assert "--bind-to core" in text.splitlines()[0]
    words = [line.split() for line in text.splitlines()]
    assert next(w for w in words if w[:1] == ["ranks"]) == ["ranks", "1", "2"]
    ours = next(w for w in words if w[:1] == ["pel_hpc"])  # the table's first row: 1 rank, 2 ranks (speedup eff)
    one, two, speedup = float(ours[1]), float(ours[2]), float(ours[3].lstrip("("))
    assert one > 0 and two > 0 and speedup == pytest.approx(two / one, abs=0.01)
    assert ("LAMMPS -sf opt" in text) == (not lammps)
    assert "PREDICTION (model, not measured)" in text

    bad = submit_bench(cluster, tmp_path / "bad", "--quick", "--sizes", "1234")
    info = cluster.wait(bad, timeout=120)
    assert info["JobState"] == "FAILED"
    assert "invalid choice: 1234" in (tmp_path / "bad" / f"slurm-{bad}.out").read_text()
    assert list((tmp_path / "bad" / "results").iterdir()) == []
