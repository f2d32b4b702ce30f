"""The whole study at laptop scale (issue 8): MD campaign → post-processing → report, on NP cores.

``python jobs/study_laptop.py [--np 2] [--root .] [--scale 1.0] [--decks input/study]``

1. Derives every deck of ``input/study/`` into ``ROOT/runs/study/<name>/deck.yaml`` (stage lengths × ``--scale``;
   the iso-configurational ensemble starts from this study's own ``ka65_T0.60`` file) and runs them with
   ``python -m pel_hpc run`` (the ensemble under ``mpirun -n NP``), at most NP cores busy at a time.
2. Runs every post-processing command (metabasins, Figs. 1–4, 6–11, Table I, crystallisation watch, CLM scan)
   as soon as its inputs exist; a failing step is recorded, its dependants are skipped, the rest goes on.
3. Writes ``ROOT/report/index.md`` and ``index.html`` (:mod:`postprocess.report`).

Progress: one line when a step starts or ends, and every ``--every`` seconds one line with each running
step's latest ETA.  The manifest ``ROOT/runs/study/manifest.json`` records every step's command, inputs,
outputs, status, wall time and the load average, and is what the report reads.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pel_hpc.deck.derive import derive  # noqa: E402
from pel_hpc.errors import PelError  # noqa: E402
from postprocess.command import positive  # noqa: E402

PY = sys.executable
ICE_OPTIONS = ["--lag", "5", "--window", "1"]  # τα(T=0.6) ≈ a few τ; the defaults are for T = 0.5 (τα ≈ 100 τ)


@dataclass
class Step:
    """One command of the study: its cores, the steps it waits for, the files it reads and writes."""

    name: str
    command: list
    cores: int = 1
    after: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: str = ""
    kind: str = "post"
    status: str = "pending"
    wall: float = 0.0
    load_start: list = field(default_factory=list)
    load_end: list = field(default_factory=list)
    log: str = ""
    derive: list = field(default_factory=list)  # [source deck, derived deck, settings]: derived when started


def scaled_stages(deck: Path, scale: float) -> str:
    """The deck's stages with every length multiplied by ``scale`` (at least one step), as YAML."""
    stages = yaml.safe_load(deck.read_text())["stages"]
    for s in stages:
        s["steps"] = max(1, int(round(s["steps"] * scale)))
    return yaml.safe_dump(stages, default_flow_style=True).strip()


def md_step(deck: Path, runs: Path, scale: float, np_: int, extra=(), after=()) -> Step:
    """The step that derives ``deck`` into ``runs/<stem>/deck.yaml`` (when it starts) and runs it."""
    name, derived = deck.stem, runs / deck.stem / "deck.yaml"
    cfg = yaml.safe_load(deck.read_text())
    ens = cfg.get("ensemble") or {}
    per = int(ens.get("ranks_per_replica", 1))  # replica groups of `per` ranks, several replicas each if needed
    ranks = per * min(int(ens.get("replicas", 1)), max(1, np_ // per))
    cmd = [PY, "-m", "pel_hpc", "run", str(derived), "--overwrite"]  # a step that runs is redone
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-n", str(ranks), *cmd]
    return Step(name, cmd, cores=min(np_, ranks), after=list(after), outputs=str(runs / name / f"{name}.h5"), kind="md",
                derive=[str(deck), str(derived), [f"stages={scaled_stages(deck, scale)}", *extra]])


def md_steps(decks: Path, runs: Path, scale: float, np_: int) -> list:
    """Every MD run of the study; the ensemble waits for the T = 0.60 IS run that it starts from."""
    steps = [md_step(d, runs, scale, np_) for d in sorted(decks.glob("ka65_T*.yaml"))]
    ice = decks / "ice520.yaml"
    if ice.exists():
        src = runs / "ka65_T0.60" / "ka65_T0.60.h5"
        steps.append(md_step(ice, runs, scale, np_, [f"system.init.file={src}"], ["ka65_T0.60"]))
    return steps + [md_step(d, runs, scale, np_) for d in sorted(decks.glob("finite_size_*.yaml"),
                                                                key=lambda p: -int(p.stem.rsplit("N", 1)[-1]))]


def post(name, module, inputs, out: Path, *options, after=()) -> Step:
    """A ``python -m MODULE INPUTS --out OUT OPTIONS`` step (``module`` must be importable)."""
    inputs = [str(p) for p in inputs]
    return Step(name, [PY, "-m", module, *inputs, "--out", str(out), *options], after=list(after),
                inputs=inputs, outputs=str(out))


def available(module: str) -> bool:
    """True when ``module`` exists in this checkout (figures of other engineers may still be missing)."""
    return importlib.util.find_spec(module) is not None


def post_steps(decks: Path, runs: Path, md: list) -> list:
    """Every post-processing step, wired to the MD outputs it reads."""
    res = runs / "results"
    ka = [s for s in md if s.name.startswith("ka65_T")]
    fs = [s for s in md if s.name.startswith("finite_size_")]
    ice = [s for s in md if s.name == "ice520"]
    ka_files, ka_names = [s.outputs for s in ka], [s.name for s in ka]
    steps = [post("metabasins", "postprocess.metabasins", ka_files, res / "metabasins", after=ka_names),
             post("table1", "postprocess.figures.table1", ka_files, res / "table1", after=ka_names),
             post("fig01", "postprocess.figures.fig01", ka_files, res / "fig01", after=ka_names),
             post("fig02", "postprocess.figures.fig02", ka_files, res / "fig02", after=ka_names)]
    ref = [s for s in ka if s.name == "ka65_T0.60"] or ka[:1]
    steps += [post("fig03", "postprocess.figures.fig03", [s.outputs for s in ref], res / "fig03",
                   after=[s.name for s in ref])]
    for fig in ("fig04", "fig11"):
        steps += [post(fig, f"postprocess.figures.{fig}", [s.outputs for s in ice], res / fig, *ICE_OPTIONS,
                       after=[s.name for s in ice])] if ice else []
    watched = ka + fs + ice
    steps.append(post("crystal", "postprocess.crystal", [s.outputs for s in watched], res / "crystal",
                      after=[s.name for s in watched]))
    if fs:
        steps.append(post("finite_size_table", "postprocess.finite_size_table", [s.outputs for s in fs],
                          res / "finite_size", after=[s.name for s in fs]))
    scan = decks / "clm_scan.yaml"
    if scan.exists():
        steps.append(Step("clm_scan", [PY, "-m", "postprocess.clm.scan", str(scan), "--out", str(runs / "clm_scan.h5")],
                          inputs=[str(scan)], outputs=str(runs / "clm_scan.h5")))
        steps += clm_figure_steps(runs / "clm_scan.h5", res, bool(fs))
    return [s for s in steps if available(s.command[2])]


def clm_figure_steps(scan_file: Path, res: Path, with_md: bool) -> list:
    """Figs. 6–10 from the CLM scan; Figs. 6–7 also read the MD finite-size table (τα(N), D(N))."""
    table = res / "finite_size" / "finite_size.csv"
    steps = []
    for fig in ("fig06", "fig07", "fig08", "fig09", "fig10"):
        md = with_md and fig in ("fig06", "fig07")
        step = post(fig, f"postprocess.figures.{fig}", [scan_file], res / fig, *(["--md", str(table)] if md else []),
                    after=["clm_scan", *(["finite_size_table"] if md else [])])
        step.inputs += [str(table)] if md else []
        steps.append(step)
    return steps


def report_step(runs: Path, report: Path) -> Step:
    return Step("report", [PY, "-m", "postprocess.report", str(runs), "--out", str(report)], after=["*"],
                inputs=[str(runs / "manifest.json")], outputs=str(report), kind="report")


def ready(step: Step, steps: list) -> bool | None:
    """True when every step it waits for is done; None when one of them failed (so it never will be)."""
    deps = [s for s in steps if s is not step and s.kind != "report"] if step.after == ["*"] else \
        [s for s in steps if s.name in step.after]
    if step.after != ["*"] and any(s.status in ("failed", "skipped") for s in deps):
        return None
    return all(s.status in ("done", "failed", "skipped") for s in deps) if step.after == ["*"] else \
        all(s.status == "done" for s in deps)


def last_progress(log: Path) -> str:
    """The latest pel_hpc progress line ('# production: step …, ETA …') of a log, or ''."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    hits = [ln for ln in lines if ln.startswith("# ")]
    return hits[-1][2:] if hits else ""


class Scheduler:
    """Run steps on at most ``cores`` cores, in list order as their inputs appear; record a manifest."""

    def __init__(self, steps: list, cores: int, logs: Path, manifest: Path, every: float):
        self.steps, self.cores, self.logs, self.manifest, self.every = steps, cores, logs, manifest, every
        self.running: dict = {}
        self.t0 = time.time()
        logs.mkdir(parents=True, exist_ok=True)

    def say(self, text: str) -> None:
        print(f"[study {time.time() - self.t0:7.1f} s] {text}", flush=True)

    def start(self, step: Step) -> None:
        step.log = str(self.logs / f"{step.name}.log")
        if step.derive:
            try:
                derive(*step.derive)
            except PelError as err:  # a deck that cannot be derived fails this step only
                step.status = "failed"
                Path(step.log).write_text(f"derive {step.derive[0]}: {err}\n")
                self.say(f"failed {step.name}: {err}")
                return
        step.status, step.load_start = "running", list(os.getloadavg())
        fh = open(step.log, "w")
        fh.write("$ " + " ".join(step.command) + "\n")
        fh.flush()
        self.running[step.name] = (subprocess.Popen(step.command, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT),
                                   fh, time.time(), step)
        self.say(f"start {step.name} ({step.cores} core{'s' * (step.cores > 1)}): log {step.log}")

    def reap(self) -> None:
        for name, (proc, fh, t, step) in list(self.running.items()):
            if proc.poll() is None:
                continue
            fh.close()
            step.wall, step.load_end = time.time() - t, list(os.getloadavg())
            step.status = "done" if proc.returncode == 0 else "failed"
            tail = "" if proc.returncode == 0 else " — " + " | ".join(Path(step.log).read_text().splitlines()[-2:])
            self.say(f"{step.status} {name} in {step.wall:.1f} s (exit {proc.returncode}){tail}")
            del self.running[name]
            self.save()

    def interrupt(self, grace: float = 5.0) -> int:
        """After Ctrl-C: let the running steps end (a terminal's SIGINT reached them too; a run checkpoints
        and stops), SIGTERM those still running after ``grace`` seconds (a SIGINT sent to this process alone
        would leave them running orphaned), record them as interrupted.  Returns the steps done.  Further
        SIGINTs are ignored meanwhile (``timeout -s INT`` and a second Ctrl-C send more): the wait is bounded."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        end = time.time() + grace
        for name, (proc, fh, t, step) in list(self.running.items()):
            try:
                proc.wait(timeout=max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()
            fh.close()
            step.status, step.wall = "interrupted", time.time() - t
            del self.running[name]
        self.save()
        return sum(s.status == "done" for s in self.steps)

    def save(self) -> None:
        doc = {"root": str(ROOT), "started": self.t0, "elapsed": time.time() - self.t0, "cores": self.cores,
               "steps": [asdict(s) for s in self.steps]}
        self.manifest.write_text(json.dumps(doc, indent=1))

    def busy(self) -> int:
        return sum(step.cores for _, _, _, step in self.running.values())

    def launch_ready(self) -> None:
        for step in self.steps:
            if step.status != "pending":
                continue
            ok = ready(step, self.steps)
            if ok is None:
                step.status = "skipped"
                self.say(f"skip {step.name}: an input step failed")
            elif ok and (self.busy() + step.cores <= self.cores or not self.running):
                self.save()
                self.start(step)
            elif ok and step.kind == "md":
                return  # an MD run waits for cores: nothing behind it may take them

    def run(self) -> bool:
        """Run everything; True when every step is done."""
        shown = time.time()
        while any(s.status in ("pending", "running") for s in self.steps):
            self.reap()
            self.launch_ready()
            if time.time() - shown >= self.every and self.running:
                shown = time.time()
                parts = [f"{n}: {last_progress(Path(st.log)) or 'running'}" for n, (_, _, _, st) in self.running.items()]
                left = sum(s.status == "pending" for s in self.steps)
                self.say(f"load {os.getloadavg()[0]:.1f}; {left} waiting; " + "; ".join(parts))
            time.sleep(0.3)
        self.save()
        return all(s.status == "done" for s in self.steps)


def resume(steps: list, manifest: Path) -> None:
    """Mark as done every step that a previous call of the same study finished with the same command."""
    if not manifest.exists():
        return
    before = {s["name"]: s for s in json.loads(manifest.read_text())["steps"]}
    for step in steps:
        old = before.get(step.name)
        if step.kind != "report" and old and old["status"] == "done" and old["command"] == step.command \
                and Path(step.outputs).exists():
            step.status, step.wall, step.log = "done", old["wall"], old["log"]
            step.load_start, step.load_end = old["load_start"], old["load_end"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python jobs/study_laptop.py", description=__doc__.splitlines()[0])
    ap.add_argument("--np", type=positive(int), default=2, help="cores to use (default 2)")
    ap.add_argument("--root", type=Path, default=ROOT, help="runs/study/ and report/ go here (default: project)")
    ap.add_argument("--decks", type=Path, default=ROOT / "input" / "study", help="campaign decks")
    ap.add_argument("--scale", type=positive(float), default=1.0, help="multiply every stage length (tests: 0.05)")
    ap.add_argument("--every", type=positive(float), default=20.0, help="seconds between progress lines")
    ap.add_argument("--resume", action="store_true", help="keep the steps a previous call finished (same command)")
    ap.add_argument("--skip", default="", help="comma-separated post-processing steps to leave out (e.g. fig02,fig03)")
    args = ap.parse_args(argv)
    if not args.decks.is_dir() or not any(args.decks.glob("*.yaml")):
        ap.error(f"--decks: no folder of decks (*.yaml) at {args.decks}")
    os.environ.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1",
                      OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", MPLBACKEND="Agg")
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    runs = args.root.resolve() / "runs" / "study"
    md = md_steps(args.decks.resolve(), runs, args.scale, args.np)
    skip = set(filter(None, args.skip.split(",")))
    post = post_steps(args.decks.resolve(), runs, md)
    if skip - {s.name for s in post}:
        ap.error(f"--skip: no post-processing step {', '.join(sorted(skip - {s.name for s in post}))}; "
                 f"the steps are {', '.join(s.name for s in post)}")
    steps = md + [s for s in post if s.name not in skip]
    steps.append(report_step(runs, args.root.resolve() / "report"))
    if args.resume:
        resume(steps, runs / "manifest.json")
    sched = Scheduler(steps, args.np, runs / "logs", runs / "manifest.json", args.every)
    sched.say(f"{len(md)} MD runs and {len(steps) - len(md)} post-processing steps on {args.np} cores "
              f"(scale {args.scale:g}, load {os.getloadavg()[0]:.1f}); manifest {runs / 'manifest.json'}")
    try:
        ok = sched.run()
    except KeyboardInterrupt:
        done = sched.interrupt()
        sched.say(f"interrupted: {done} of {len(steps)} steps finished; `python jobs/study_laptop.py --resume` with "
                  f"the same options keeps them and redoes the rest")
        return 130
    sched.say(f"{'finished' if ok else 'finished with failures'}: report {args.root.resolve() / 'report' / 'index.html'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
