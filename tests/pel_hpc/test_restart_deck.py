"""``--restart`` continues the same run: a deck that changes its physics, start, protocol or output
cadences is refused before anything is written; longer stages (and the other permitted changes of
:mod:`pel_hpc.deck.restart`) continue it, bitwise as if the run had been that long from the start."""
import hashlib
import os

import h5py
import numpy as np
import pytest

from pel_hpc.deck.restart import check_restart_deck
from pel_hpc.deck.validate import load_deck
from pel_hpc.errors import DeckError
from pel_hpc.io import layout as L
from pel_hpc.io.reader import run_deck_text, stored_deck
from pel_hpc.io.session import run_deck
from pel_hpc.parallel.comm import SerialComm

DECK = """run: {{name: {name}, seed: 5}}
system: {{n: 65, cutoff: 1.8}}
integrator: {{temperature: 0.6}}
stages:
  - {{name: equilibration, steps: 100, output: false}}
  - {{name: production, steps: {prod}}}
quench: {{every: 100}}
output: {{thermo: 50, positions: 100, is_positions: 100}}
checkpoint: {{every: 200}}
"""
RUN = DECK.format(name="r", prod=600)  # the run's deck in the unit tests below


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, key", [
    ("temperature: 0.6", "temperature: 0.45", "integrator.temperature"),
    ("seed: 5", "seed: 6", "run.seed"),
    ("cutoff: 1.8", "cutoff: 2.5", "system.cutoff"),
    ("n: 65", "n: 66", "system.n"),
    ("integrator: {", "integrator: {dt: 0.004, ", "integrator.dt"),
    ("positions: 100, is", "positions: 200, is", "output.positions"),
    ("quench: {every: 100}", "quench: {every: 100, tolerance: 1.0e-6}", "quench.tolerance"),
    ("checkpoint:", "ensemble: {replicas: 2}\ncheckpoint:", "ensemble.replicas"),
])
def test_a_change_of_physics_protocol_or_layout_is_refused_naming_the_key(old, new, key):
    with pytest.raises(DeckError, match=rf"^--restart: {key.replace('.', '[.]')} is .* here but .* in the run"):
        check_restart_deck(RUN, edit(RUN, old, new), 400, "r.h5")


@pytest.mark.parametrize("old, new", [
    ("seed: 5}", "seed: 5, threads: 2}"),
    ("system: {n: 65, cutoff: 1.8}", "system: {n: 65, cutoff: 1.8, skin: 0.4}"),
    ("checkpoint: {every: 200}", "checkpoint: {every: 1000}\ndecomposition: {reproducible: true, balance: true}"),
    ("quench: {every: 100}", "quench: {every: 100, max_iter: 500000}"),
    ("output: {", "output: {transfer: independent, "),
    ("run: {name: r, seed: 5}", "# a comment\nrun:\n  seed: 5\n  name: r\n  threads: 1"),  # layout, defaults
])
def test_how_the_run_is_computed_may_change(old, new):
    check_restart_deck(RUN, edit(RUN, old, new), 400, "r.h5")


@pytest.mark.parametrize("step, prod, extra, refused", [
    (400, 600, "", None),
    (400, 300, "", None),  # the production has done 300: it may end there
    (400, 299, "", "stages\\[1\\].steps \\('production'\\) is 299 here but the run has done 300"),
    (700, 2000, "", None),  # a finished run extended
    (700, 600, "\n  - {name: more, steps: 50}", None),  # or given a further stage
    (100, 600, "", None),  # the production begins at 100: its length is free
    (99, 600, "", None),
])
def test_stages_still_to_come_may_change(step, prod, extra, refused):
    new = edit(RUN, "production, steps: 600}", f"production, steps: {prod}}}{extra}")
    if refused:
        with pytest.raises(DeckError, match=refused):
            check_restart_deck(RUN, new, step, "r.h5")
    else:
        check_restart_deck(RUN, new, step, "r.h5")


@pytest.mark.parametrize("step, old, new, refused", [
    (400, "equilibration, steps: 100", "equilibration, steps: 200",
     "stages\\[0\\].steps \\('equilibration', finished\\) is 200 here but 100 in the run"),
    (100, "equilibration, steps: 100", "equilibration, steps: 200", "stages\\[0\\].steps"),  # finished at 100
    (400, "name: production", "name: prod", "stages\\[1\\] is 'prod' .* here but 'production'"),
    (400, "production, steps: 600}", "production, steps: 600, output: false}", "stages\\[1\\] is 'production' \\(output False\\)"),
])
def test_finished_stages_and_the_current_ones_identity_may_not(step, old, new, refused):
    with pytest.raises(DeckError, match=refused):
        check_restart_deck(RUN, edit(RUN, old, new), step, "r.h5")
    check_restart_deck(RUN, edit(RUN, old, new), 0 if "equilibration" in old else 99, "r.h5")  # not yet begun


def test_a_removed_stage_that_had_begun_is_refused():
    short = edit(RUN, "\n  - {name: production, steps: 600}", "")
    with pytest.raises(DeckError, match="stages\\[1\\] \\('production'\\) is missing here but begun"):
        check_restart_deck(RUN, short, 100, "r.h5")


def run(folder, text, restart=False):
    (folder / "r.yaml").write_text(text)
    cfg = load_deck(folder / "r.yaml")
    run_deck(cfg, SerialComm(), restart=restart, stream=open(os.devnull, "w"))
    return cfg


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def series(path, element):
    with h5py.File(path, "r") as f:
        group = f[element]
        return group[L.STEP][()], group[L.VALUE][()]


def test_extended_run_equals_one_that_long_from_the_start_and_a_refused_restart_changes_nothing(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cfg = run(tmp_path / "a", DECK.format(name="r", prod=300))
    before = (digest(cfg.output.file), digest(cfg.checkpoint.file))
    with pytest.raises(DeckError, match="integrator.temperature"):
        run(tmp_path / "a", edit(DECK.format(name="r", prod=600), "temperature: 0.6", "temperature: 0.5"), True)
    assert (digest(cfg.output.file), digest(cfg.checkpoint.file)) == before
    longer = DECK.format(name="r", prod=600)
    run(tmp_path / "a", longer, restart=True)  # finished at 400, extended to 700
    whole = run(tmp_path / "b", longer)
    for element in (L.element_path(0, L.POSITION), L.element_path(0, L.INHERENT_STRUCTURE),
                    L.observable_path(0, "potential_energy")):
        steps, values = series(cfg.output.file, element)
        steps_whole, values_whole = series(whole.output.file, element)
        assert steps.tolist() == steps_whole.tolist() and steps[-1] == 700
        assert np.array_equal(values, values_whole), element
    with h5py.File(cfg.output.file, "r") as f:
        assert stored_deck(f) == DECK.format(name="r", prod=300)  # the deck the run started with
        assert list(f[f"{L.PARAMETERS}/{L.RESTART_DECKS}"]) == ["000000000400"]
        assert run_deck_text(f) == longer
    # the next restart compares with the latest deck: the production (begun at 100) has run 600 steps
    with pytest.raises(DeckError, match="is 500 here but the run has done 600"):
        run(tmp_path / "a", DECK.format(name="r", prod=500), restart=True)
