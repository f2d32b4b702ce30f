"""The study report: Table I beside the paper's values, every figure with the decks and files it came from.

``python -m postprocess.report RUNS_DIR --out REPORT_DIR`` reads ``RUNS_DIR/manifest.json`` (written by
``jobs/study_laptop.py``: every step's command, inputs, outputs, status, wall time, load average), the
provenance that our HDF5 files carry (deck text, git commit, package version, rank count; read with
:func:`postprocess.io.provenance`), the Table I CSV of :mod:`postprocess.figures.table1` and the
crystallisation watch CSV of :mod:`postprocess.crystal`, and writes ``REPORT_DIR/index.md`` and
``REPORT_DIR/index.html`` with the PNGs copied to ``REPORT_DIR/figures/``.

Every number in the report is read from files of the run being reported; nothing is shipped.  Each run
file is identified by its SHA-256 (first 16 hex digits) so a reader can check which file a figure used.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import shutil
import time
from pathlib import Path

import h5py
import yaml

from pel_hpc.errors import InputFileError
from pel_hpc.io import layout as L
from postprocess import io as pio
from postprocess.landscape import TABLE_I
from postprocess.command import run
from postprocess.crystal import drop_text

FIGURES = {
    1: ("fig01", "D and τα of the MB trajectory vs the CTRW expressions (Sect. II)"),
    2: ("fig02", "S0(t) vs S_MB(k=400,t) and S_cont(k_c,t)"),
    3: ("fig03", "k dependence of the KWW τ0 and β, MB vs continuous trajectory; k_c"),
    4: ("fig04", "N(d)/N_av(d) of the first two structural events of an iso-configurational ensemble"),
    5: (None, "schematic of the coupling scenario (a drawing in the paper; nothing to compute)"),
    6: ("fig06", "finite-size reduction of τα: MD vs CLM, fixing q(T)"),
    7: ("fig07", "coupling constant q vs 1/⟨τ⟩"),
    8: ("fig08", "Stokes–Einstein violation with and without coupling"),
    9: ("fig09", "CLM vs large-system MD: τα and β_KWW at k_c"),
    10: ("fig10", "τα vs q_eff for several interaction ranges r_max"),
    11: ("fig11", "⟨τ12⟩(d) between the first two structural events, and τ01"),
}
TABLE_ROWS = (("σ", "sigma", "sigma"), ("λ", "lam", "lam"), ("e_c − e0", "e_c-e0", "e_c"), ("κ", "kappa", "kappa"),
              ("Γ0", "gamma0", "gamma0"), ("e_cut − e0", "e_cut-e0", "e_cut"), ("σ_γ", "sigma_gamma", "sigma_gamma"))
HONESTY = (
    "This is the laptop-scale study (2 cores, minutes), not the paper's campaign (jobs/campaign_paper.sh). "
    "T = 0.45–0.55 need 10⁶–10⁷ MD steps per 65-particle run and are out of reach here; the IS runs use "
    "T = 0.60–0.80, where metabasins are short-lived and the PEL description is least accurate. "
    "Expect noisy figures: a few hundred metabasins per temperature, one seed, N ≤ 1040 in the finite-size "
    "series, 24 replicas (one event pair each) in the iso-configurational ensemble. Table I fitted from such data has large "
    "errors and may differ from the paper's values beyond them (the paper fits T = 0.45–0.6); the values "
    "below are what our files give, with no adjustment; e_cut in particular is set by the lowest MB energies "
    "visited, which T ≥ 0.6 does not reach, and Γ0 (the rate above e_c) is affected by the 0.25 τ quench "
    "resolution of the many short MBs.")
NOTES = (
    "Campaign notes: the iso-configurational ensemble starts every replica from one file configuration "
    "(init.kind: replicate of the last IS of the T = 0.60 run) with its own Maxwell–Boltzmann velocities. "
    "Finite-size τα(N) uses F_s(k = 7.25, t) of the A particles; the paper's N = 65 … 8320 at "
    "T = 0.45–0.6 is replaced by N = 65–1040 at T = 0.6 and 0.7.")


def sha256(path, n: int = 16) -> str:
    """First ``n`` hex digits of the SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def _short(commit: str) -> str:
    """A commit as the report shows it: 12 hex digits, keeping git's ``-dirty`` mark of modified sources."""
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def run_provenance(path) -> dict:
    """What a run file says about itself: run name, N, T, replicas, git commit, version, ranks, SHA-256."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        prov = pio.provenance(f)
        replicas = len(f[L.PARTICLES]) if L.PARTICLES in f else 0
        species = f.get(f"{L.particles_path(0)}/{L.SPECIES}")
        n = "—" if species is None else species.shape[0]  # the file's N (a deck may derive it from a start file)
        commits = ([prov[L.ATTR_GIT_COMMIT]] if L.ATTR_GIT_COMMIT in prov else  # a CLM scan: per grid point
                   [g.attrs[L.ATTR_GIT_COMMIT] for g in f.values() if L.ATTR_GIT_COMMIT in g.attrs])
    deck = yaml.safe_load(prov.get("deck", "")) or {}
    return {"file": str(path.resolve()), "run": (deck.get("run") or {}).get("name", path.stem),
            "n": n, "temperature": (deck.get("integrator") or {}).get("temperature", "—"),
            "replicas": replicas, "git_commit": ", ".join(sorted({_short(str(c)) for c in commits})) or "?",
            "version": prov.get("package_version", "?"), "ranks": prov.get("n_ranks", "?"),
            "sha256": sha256(path)}


def read_table1(path) -> dict:
    """{name: (value, error)} of a Table I CSV (:func:`postprocess.pel_fit.write_table`), and its header lines."""
    rows, header = {}, []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            header.append(line.lstrip("# "))
        elif line and not line.startswith("name,"):
            name, value, error = line.split(",")
            rows[name] = (float(value), float(error))
    return {"rows": rows, "header": header}


def load_manifest(runs: Path) -> dict:
    path = Path(runs) / "manifest.json"
    if not path.exists():
        raise InputFileError(f"no manifest: '{path}' (run jobs/study_laptop.py first)")
    return json.loads(path.read_text())


def md_decks(manifest: dict) -> dict:
    """{output file: (source deck, derived deck)} of every MD step."""
    return {s["outputs"]: (s["derive"][0], s["derive"][1]) for s in manifest["steps"] if s.get("derive")}


def sources_block(step: dict, decks: dict) -> list:
    """Table rows naming each input of a step: run, N, T, deck, file, SHA-256, git commit."""
    rows = []
    for name in expand_tables(step["inputs"]):
        if not Path(name).exists() or not name.endswith(".h5"):
            rows.append([Path(name).name, "", "", name, "", "", ""])
            continue
        p = run_provenance(name)
        deck = decks.get(name, ("", ""))[0] or "(not an MD run)"
        rows.append([p["run"], str(p["n"]), str(p["temperature"]), deck, p["file"], p["sha256"], p["git_commit"]])
    return rows


def expand_tables(inputs) -> list:
    """Inputs with every CSV that names its own source files (a ``file`` column) replaced by those files."""
    out = []
    for name in inputs:
        if name.endswith(".csv") and Path(name).exists():
            with open(name) as fh:
                files = [r["file"] for r in csv.DictReader(fh) if r.get("file")]
            out += files or [name]
        else:
            out.append(name)
    return out


def finite_size_blocks(manifest: dict) -> list:
    """The MD finite-size table (T, N, τα, D) that Figs. 6–7 compare with the CLM."""
    step = next((s for s in manifest["steps"] if s["name"] == "finite_size_table"), None)
    path = Path(step["outputs"]) / "finite_size.csv" if step else None
    blocks = [("h2", "MD finite-size series (postprocess.finite_size_table)")]
    if step is None or step["status"] != "done" or not path.exists():
        return blocks + [("p", f"Not produced: {failure_text(step)}")]
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    table = [[r["T"], r["N"], f"{float(r['tau_alpha']):.4g} ± {float(r['tau_alpha_err']):.2g}", f"{float(r['beta']):.3f}",
              f"{float(r['D']):.4g} ± {float(r['D_err']):.2g}", Path(r["file"]).name] for r in rows]
    return blocks + [("table", ["T", "N", "τα [τ] (KWW, k = 7.25)", "β_KWW", "D_A [σ²/τ]", "file"], table)]


SOURCE_HEADER = ["run", "N", "T", "deck", "file", "sha256[:16]", "git commit"]


def table1_blocks(manifest: dict, decks: dict) -> list:
    """Table I: the paper's values beside ours (value ± 1σ error, deviation in errors), with the sources."""
    step = next((s for s in manifest["steps"] if s["name"] == "table1"), None)
    csv_path = Path(step["outputs"]) / "table1.csv" if step else None
    blocks = [("h2", "Table I — PEL parameters (N = 65, e0 = 0)")]
    if step is None or step["status"] != "done" or not csv_path.exists():
        return blocks + [("p", f"Not produced: {failure_text(step)}")]
    fit = read_table1(csv_path)
    rows = []
    for label, ours_key, paper_key in TABLE_ROWS:
        paper = getattr(TABLE_I, paper_key)
        value, err = fit["rows"].get(ours_key, (float("nan"), float("nan")))
        dev = (value - paper) / err if err > 0 else float("nan")
        rows.append([label, f"{paper:g}", f"{value:.4g} ± {err:.2g}", f"{dev:+.1f}"])
    blocks.append(("table", ["parameter", "paper", "ours (this run)", "(ours − paper)/error"], rows))
    blocks.append(("p", "Fit notes: " + " ".join(fit["header"])))
    blocks += [("img", str(p), "ln⟨τ(e)⟩ per temperature with the eq. (1) fit") for p in sorted(Path(step["outputs"]).glob("*.png"))]
    blocks.append(("p", f"Made by `{command_text(step)}` from:"))
    return blocks + [("table", SOURCE_HEADER, sources_block(step, decks))]


def command_text(step: dict) -> str:
    return " ".join(Path(c).name if i == 0 else c for i, c in enumerate(step["command"]))


def failure_text(step) -> str:
    """Why a step has no result: missing module, skipped, or the last lines of its log."""
    if step is None:
        return "not run (its module is not in this checkout, or the step was left out with --skip)"
    if step["status"] == "skipped":
        return "skipped because a run it reads failed"
    lines = Path(step["log"]).read_text(errors="replace").splitlines() if step.get("log") else []
    return f"step {step['name']} {step['status']}: " + " | ".join(lines[-2:])


def figure_blocks(manifest: dict, decks: dict) -> list:
    """Figs. 1–11: every PNG of each figure step, its command, and the decks and files it read."""
    steps = {s["name"]: s for s in manifest["steps"]}
    blocks = [("h2", "Figures")]
    for number, (name, caption) in FIGURES.items():
        blocks.append(("h3", f"Fig. {number} — {caption}"))
        if name is None:
            blocks.append(("p", "Schematic in the paper; not a computed figure."))
            continue
        step = steps.get(name)
        pngs = sorted(Path(step["outputs"]).glob("*.png")) if step and step["status"] == "done" else []
        if not pngs:
            blocks.append(("p", f"Not produced: {failure_text(step)}"))
            continue
        blocks += [("img", str(p), f"Fig. {number}: {p.name}") for p in pngs]
        blocks.append(("p", f"Made by `{command_text(step)}` in {step['wall']:.0f} s from:"))
        blocks.append(("table", SOURCE_HEADER, sources_block(step, decks)))
    return blocks


def crystal_blocks(manifest: dict) -> list:
    """The crystallisation watch: one row per run, flagged runs marked."""
    step = next((s for s in manifest["steps"] if s["name"] == "crystal"), None)
    path = Path(step["outputs"]) / "crystal.csv" if step else None
    blocks = [("h2", "Crystallisation watch (postprocess.crystal)")]
    if step is None or step["status"] != "done" or not path.exists():
        return blocks + [("p", f"Not produced: {failure_text(step)}")]
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    flagged = [r["run"] for r in rows if r["flagged"] == "True"]
    blocks.append(("p", "FLAGGED (possible crystallisation, treat their results with care): " + ", ".join(flagged)
                   if flagged else "No run flagged: every sampled frame is liquid-like and no IS energy fell suddenly."))
    table = [[r["run"], r["n_particles"], r["temperature"], f"{float(r['q6_global']):.3f}",
              f"{float(r['solid_fraction_max']):.2f}", drop_text(float(r["e_is_drop"]), float(r["e_is_drop_err"])),
              ("**FLAGGED**: " if r["flagged"] == "True" else "") + r["reason"]] for r in rows]
    return blocks + [("table", ["run", "N", "T", "Q6 (A, last frame)", "max solid-like A fraction",
                                "e_IS drop [ε/particle]", "verdict"], table)]


def timing_blocks(manifest: dict) -> list:
    """Every step with its status, wall time and the 1-minute load average at its start and end."""
    rows = [[s["name"], s["kind"], str(s["cores"]), s["status"], f"{s['wall']:.1f}",
             " / ".join(f"{x[0]:.1f}" for x in (s["load_start"], s["load_end"]) if x)] for s in manifest["steps"]]
    loads = [s[k][0] for s in manifest["steps"] for k in ("load_start", "load_end") if s[k]]
    text = (f"Whole study: {manifest['elapsed']:.0f} s wall on {manifest['cores']} cores; 1-minute load average "
            f"{min(loads, default=0):.1f}–{max(loads, default=0):.1f} during the run (the machine was shared when "
            f"the load exceeds the core count).")
    return [("h2", "Steps and timing"), ("p", text),
            ("table", ["step", "kind", "cores", "status", "wall [s]", "load start / end"], rows)]


def build(runs: Path) -> list:
    """All blocks of the report, in order."""
    manifest = load_manifest(runs)
    decks = md_decks(manifest)
    done = sum(s["status"] == "done" for s in manifest["steps"])
    head = [("h1", "pel_hpc laptop study — report"),
            ("p", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from `{runs}` ({done} of "
                  f"{len(manifest['steps'])} steps done)."), ("p", HONESTY), ("p", NOTES)]
    return head + table1_blocks(manifest, decks) + figure_blocks(manifest, decks) + finite_size_blocks(manifest) + \
        crystal_blocks(manifest) + \
        timing_blocks(manifest)


def copy_figures(blocks: list, out: Path) -> list:
    """Copy every PNG into ``out/figures/`` (unique names) and point the blocks at the copies."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    result = []
    for b in blocks:
        if b[0] == "img":
            src = Path(b[1])
            dst = out / "figures" / f"{src.parent.name}_{src.name}"
            shutil.copyfile(src, dst)
            b = ("img", f"figures/{dst.name}", b[2])
        result.append(b)
    return result


def to_markdown(blocks: list) -> str:
    lines = []
    for b in blocks:
        if b[0] in ("h1", "h2", "h3"):
            lines += ["#" * int(b[0][1]) + " " + b[1], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "img":
            lines += [f"![{b[2]}]({b[1]})", ""]
        elif b[0] == "table":
            lines += ["| " + " | ".join(b[1]) + " |", "|" + "---|" * len(b[1])]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in b[2]] + [""]
    return "\n".join(lines)


def to_html(blocks: list) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pel_hpc study report</title><style>"
             "body{font-family:sans-serif;max-width:1100px;margin:auto} table{border-collapse:collapse;font-size:80%}"
             "td,th{border:1px solid #bbb;padding:2px 6px} img{max-width:720px;display:block}</style></head><body>"]
    for b in blocks:
        if b[0] in ("h1", "h2", "h3"):
            parts.append(f"<{b[0]}>{e(b[1])}</{b[0]}>")
        elif b[0] == "p":
            parts.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "img":
            parts.append(f"<figure><img src='{e(b[1])}' alt='{e(b[2])}'><figcaption>{e(b[2])}</figcaption></figure>")
        elif b[0] == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in b[2])
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
    return "\n".join(parts + ["</body></html>"])


def main(argv=None) -> int:
    """``python -m postprocess.report RUNS_DIR --out REPORT_DIR`` → ``index.md``, ``index.html``, ``figures/``."""
    ap = argparse.ArgumentParser(prog="python -m postprocess.report", description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, help="folder with manifest.json (jobs/study_laptop.py: runs/study)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    blocks = build(args.runs)
    args.out.mkdir(parents=True, exist_ok=True)
    blocks = copy_figures(blocks, args.out)
    (args.out / "index.md").write_text(to_markdown(blocks))
    (args.out / "index.html").write_text(to_html(blocks))
    print(args.out / "index.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m postprocess.report"))
