"""A throw-away single-node SLURM (slurmctld + slurmd + munge) in a temporary folder, per ../shared/STACK.md."""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "munged", "munge")


def missing_reason() -> str | None:
    """Why a real SLURM cannot start here (None if it can)."""
    absent = [b for b in BINARIES if shutil.which(b) is None]
    if absent:
        return f"SLURM/munge binaries not installed ({', '.join(absent)}): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs (this test configures SlurmdUser=root)"
    if not Path("/etc/munge/munge.key").exists():
        return "no /etc/munge/munge.key (create one: 1024 random bytes, owner munge, mode 400)"
    return None


def _conf(folder: Path, host: str, cpus: int, port: int) -> str:
    return f"""ClusterName=pel{port}
SlurmctldHost={host}
SlurmctldPort={port}
SlurmdPort={port + 1}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AuthType=auth/munge
AuthInfo=socket={folder}/munge.sock,cred_expire=10
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerParameters=defer_batch=0
SchedulerTimeSlice=5
MinJobAge=600
KillWait=30
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


class SlurmCluster:
    """Start with :meth:`start`, submit with :meth:`sbatch`, always :meth:`stop` (kills only our daemons)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.host = socket.gethostname().split(".")[0]
        self.port = random.randint(20000, 29000)
        self.env = dict(os.environ, SLURM_CONF=str(self.folder / "slurm.conf"))
        self.munged_pid = None

    def start(self, timeout: float = 60) -> "SlurmCluster":
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        (self.folder / "slurm.conf").write_text(_conf(self.folder, self.host, os.cpu_count() or 1, self.port))
        self._ensure_munge()
        subprocess.run(["slurmctld", "-f", self.env["SLURM_CONF"]], env=self.env, check=True)
        subprocess.run(["slurmd", "-f", self.env["SLURM_CONF"]], env=self.env, check=True)
        t0 = time.time()
        while time.time() - t0 < timeout:
            out = self.run("sinfo", "-h", "-o", "%T").stdout.strip()
            if out in ("idle", "mixed", "allocated"):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"SLURM node not idle after {timeout} s: {self.logs()}")

    def _ensure_munge(self) -> None:
        """Our own munged on a socket in the folder (no system directories touched)."""
        f = self.folder
        subprocess.run(["munged", "--force", f"--socket={f}/munge.sock", f"--pid-file={f}/munged.pid",
                        f"--log-file={f}/munged.log", f"--seed-file={f}/munged.seed"], check=True,
                       capture_output=True)
        self.munged_pid = int((f / "munged.pid").read_text())
        check = subprocess.run(f"munge -n -S {f}/munge.sock | unmunge -S {f}/munge.sock", shell=True,
                               capture_output=True)
        if check.returncode:
            raise RuntimeError(f"munge does not work: {check.stderr.decode()}")

    def run(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True)

    def sbatch(self, *args, env=None) -> int:
        out = subprocess.run(["sbatch", "--parsable", *args], env={**self.env, **(env or {})},
                             capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"sbatch failed: {out.stderr}")
        return int(out.stdout.strip().split(";")[0])

    def state(self, job: int) -> dict:
        text = self.run("scontrol", "show", "job", str(job)).stdout
        return dict(item.split("=", 1) for item in text.split() if "=" in item)

    def wait(self, job: int, states=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"),
             timeout: float = 300) -> dict:
        t0 = time.time()
        while time.time() - t0 < timeout:
            info = self.state(job)
            if info.get("JobState") in states:
                return info
            time.sleep(0.5)
        raise TimeoutError(f"job {job} still {self.state(job).get('JobState')} after {timeout} s")

    def logs(self) -> str:
        return "".join((self.folder / f).read_text()[-2000:] for f in ("slurmctld.log", "slurmd.log")
                       if (self.folder / f).exists())

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld"):
            pid_file = self.folder / f"{name}.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text()), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        time.sleep(1.0)
        if self.munged_pid:
            try:
                os.kill(self.munged_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
