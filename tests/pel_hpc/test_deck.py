"""Deck validation: every malformed deck in tests/decks/bad gives its expected one-line error,
the shipped decks validate, derived values follow the schema's rules."""
import math
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pel_hpc.deck.schema import SECTIONS, reference_markdown
from pel_hpc.deck.validate import load_deck, validate_deck
from pel_hpc.errors import DeckError, InputFileError

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "decks" / "bad").glob("*.yaml"))
INPUT = sorted(p for pattern in ("demo.yaml", "ka65_T*.yaml", "finite_size_N*.yaml", "ice520*.yaml")
               for p in (ROOT / "input").glob(pattern))  # the MD decks (clm_scan.yaml is post-processing)
ERRORS = {"DeckError": DeckError, "InputFileError": InputFileError}


def expectation(path: Path):
    match = re.search(r"^# expect: (\w+): (.+)$", path.read_text(), re.M)
    return ERRORS[match.group(1)], match.group(2).strip()


def test_at_least_twenty_bad_decks():
    assert len(BAD) >= 20


@pytest.mark.parametrize("deck", BAD, ids=[p.stem for p in BAD])
def test_bad_deck_gives_its_one_line_error_and_writes_nothing(deck, tmp_path):
    err_type, expected = expectation(deck)
    copy = tmp_path / deck.name
    shutil.copy(deck, copy)
    with pytest.raises(err_type) as info:
        load_deck(copy)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [deck.name]


@pytest.mark.parametrize("deck", INPUT, ids=lambda p: p.stem)
def test_shipped_decks_validate(deck):
    cfg = load_deck(deck)
    assert cfg.output.file == str(deck.parent / f"{cfg.run.name}.h5")
    assert cfg.checkpoint.file == str(deck.parent / f"{cfg.run.name}.chk.h5")
    assert cfg.deck_text == deck.read_text()


def minimal(**sections):
    deck = {"system": {"n": 65, "cutoff": 1.8}, "integrator": {"temperature": 0.6},
            "stages": [{"name": "production", "steps": 10}]}
    deck.update(sections)
    return deck


def test_defaults_follow_the_schema(tmp_path):
    cfg = validate_deck(minimal(), tmp_path)
    assert cfg.integrator.dt == 0.005 and cfg.integrator.chain == 3 and cfg.integrator.tau_t == 0.5
    assert cfg.quench.every == 0 and cfg.quench.tolerance == 1e-8 and cfg.quench.method == "lbfgs"
    assert (cfg.output.thermo, cfg.output.positions, cfg.output.velocities) == (100, 1000, 0)
    assert cfg.output.file == str(tmp_path / "run.h5") and cfg.checkpoint.file == str(tmp_path / "run.chk.h5")
    assert cfg.decomposition.grid == "auto" and cfg.system.truncation == "shift"
    assert cfg.system.init.replicate == (1, 1, 1) and cfg.stages[0].output is True


def test_every_schema_key_is_in_the_reference():
    text = reference_markdown()
    for section, keys in SECTIONS.items():
        for key in keys:
            if key.kind != "section":
                assert f".{key.name}`" in text or f"`{key.name}`" in text


def test_numbers_in_yaml_spellings(tmp_path):
    # PyYAML reads "1e-6" as a string (YAML 1.1); the deck accepts it as the number it means
    cfg = validate_deck(minimal(quench={"every": 10, "tolerance": "1e-6"},
                                stages=[{"name": "p", "steps": "2e3"}]), tmp_path)
    assert cfg.quench.tolerance == 1e-6 and cfg.stages[0].steps == 2000


def test_config_is_frozen_and_picklable(tmp_path):
    cfg = validate_deck(minimal(), tmp_path)
    with pytest.raises(Exception):
        cfg.system.n = 10
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert cfg.total_steps == 10 and cfg.ensemble.ranks_per_replica == "auto"


def test_file_start_derives_n_and_density_and_checks_frames(tmp_path):
    from pel_hpc.io.writer import H5MDWriter
    from pel_hpc.parallel.comm import SerialComm

    src = validate_deck(minimal(output={"file": "start.h5", "positions": 1}, quench={"every": 1},
                                ), tmp_path)
    edge = (65 / 1.2) ** (1 / 3)
    w = H5MDWriter(src, SerialComm()).create([edge] * 3, {0: (np.arange(65), np.zeros(65, np.int32))})
    for step in (0, 1, 2):
        w.append_particles("position", step, {0: (np.arange(65), np.zeros((65, 3)))})
    w.close()
    cfg = validate_deck(minimal(system={"cutoff": 1.8, "init": {"kind": "replicate", "file": "start.h5",
                                                                "replicate": [2, 2, 2], "frame": -3}}), tmp_path)
    assert cfg.system.n == 520 and math.isclose(cfg.system.density, 1.2)
    with pytest.raises(DeckError, match=r"system.init.frame: 3 is out of range for 3 frames"):
        validate_deck(minimal(system={"cutoff": 1.8, "init": {"kind": "file", "file": "start.h5", "frame": 3}}),
                      tmp_path)
    with pytest.raises(DeckError, match=r"system.n: 64 disagrees"):
        validate_deck(minimal(system={"n": 64, "cutoff": 1.8, "init": {"kind": "file", "file": "start.h5"}}),
                      tmp_path)
    with pytest.raises(DeckError, match="output.file: is the start file"):
        validate_deck(minimal(system={"cutoff": 1.8, "init": {"kind": "file", "file": "start.h5"}},
                              output={"file": "start.h5"}), tmp_path)


def test_world_size_check(tmp_path):
    from pel_hpc.deck.checks import check_world_size
    from pel_hpc.errors import LaunchError

    cfg = validate_deck(minimal(ensemble={"replicas": 2, "ranks_per_replica": 2}), tmp_path)
    check_world_size(cfg, 4)
    check_world_size(cfg, 2)  # one group of 2 ranks runs both replicas
    with pytest.raises(LaunchError, match="^3 MPI ranks cannot form groups of ensemble.ranks_per_replica = 2; "
                                          "use a multiple of 2$"):
        check_world_size(cfg, 3)
    with pytest.raises(LaunchError, match="^6 MPI ranks make 3 groups of ensemble.ranks_per_replica = 2, more than "
                                          "the deck's 2 replica.s.: use at most 4 ranks; to split each replica over "
                                          "3 ranks set ensemble.ranks_per_replica: 3 .or auto.$"):
        check_world_size(cfg, 6)


@pytest.mark.parametrize("replicas, size, per", [(1, 1, 1), (1, 8, 8), (2, 6, 3), (64, 2, 1), (3, 2, 1), (8, 8, 1)])
def test_auto_ranks_per_replica_shares_the_world(tmp_path, replicas, size, per):
    """The default: a lone replica is decomposed over every rank (mpirun -n 8 on one system), an
    ensemble gets the ranks shared equally, or several replicas per rank when there are more."""
    from pel_hpc.deck.checks import check_world_size, ranks_per_replica

    ens = {"replicas": replicas, "mode": "independent"}
    cfg = validate_deck(minimal(system={"n": 8000}, ensemble=ens), tmp_path)
    assert cfg.ensemble.ranks_per_replica == "auto" and ranks_per_replica(cfg, size) == per
    check_world_size(cfg, size)


def test_auto_ranks_per_replica_refusals_and_an_explicit_grid(tmp_path):
    from pel_hpc.deck.checks import ranks_per_replica
    from pel_hpc.errors import LaunchError

    cfg = validate_deck(minimal(ensemble={"replicas": 2}), tmp_path)
    with pytest.raises(LaunchError, match=r"^3 MPI ranks cannot be shared equally by the deck's 2 replicas "
                                          r"\(ensemble.ranks_per_replica: auto\); use 2, 4, 6, ... ranks or at most 2$"):
        ranks_per_replica(cfg, 3)
    grid = validate_deck(minimal(system={"n": 8000}, decomposition={"grid": [2, 1, 2]}), tmp_path)
    assert grid.ensemble.ranks_per_replica == 4  # auto: the grid's ranks
    with pytest.raises(DeckError, match="ensemble.ranks_per_replica: expected an integer or \"auto\", got 'all'"):
        validate_deck(minimal(ensemble={"ranks_per_replica": "all"}), tmp_path)


def test_readme_holds_the_generated_deck_reference_once_and_no_paragraph_twice():
    """The table is pasted in by hand after a schema change; an edit that pasted the paragraph after
    it along with it left five copies of the preparation paragraph in the README."""
    import collections
    import re

    text = (ROOT / "README.md").read_text()
    assert text.count(reference_markdown()) == 1
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if len(p.strip()) > 120]
    repeated = [p[:60] for p, k in collections.Counter(paragraphs).items() if k > 1]
    assert repeated == []


def test_preparation_section_derives_the_start_and_its_own_deck(tmp_path):
    from pel_hpc.deck.preparation import SEED_OFFSET, preparation_deck

    assert validate_deck(minimal(), tmp_path).preparation is None
    cfg = validate_deck(minimal(run={"seed": 4}, system={"cutoff": 1.8, "init": {
        "kind": "lowest_inherent_structure", "replicate": [2, 2, 2]}}, preparation={"n": 65, "steps": 500}), tmp_path)
    assert cfg.system.n == 520 and math.isclose(cfg.system.density, 1.2)
    prep = cfg.preparation
    assert prep.file == str(tmp_path / "run.prep.h5") and cfg.system.init.file == prep.file
    assert prep.temperature == 0.6 and prep.seed == 4 + SEED_OFFSET and prep.replicas == 1
    pcfg = preparation_deck(cfg)
    assert pcfg.system.n == 65 and pcfg.integrator.temperature == 0.6 and pcfg.system.cutoff == 1.8
    assert [(s.name, s.steps) for s in pcfg.stages] == [("inherent_structures", 500)]
    assert pcfg.quench.every == pcfg.output.is_positions == 100 and pcfg.output.positions == 0
    assert pcfg.checkpoint.file == str(tmp_path / "run.prep.chk.h5") and pcfg.preparation is None
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert preparation_deck(cfg).deck_text == pcfg.deck_text  # the text identifies the preparation


def test_derive_anchors_the_preparation_file(tmp_path):
    from pel_hpc.deck.derive import derive

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "d.yaml").write_text(
        "system: {cutoff: 1.8, init: {kind: lowest_inherent_structure, replicate: [2, 2, 2]}}\n"
        "integrator: {temperature: 0.5}\nstages: [{name: p, steps: 10}]\n"
        "preparation: {n: 65, steps: 100, file: stable.h5}\n")
    out = derive(tmp_path / "src" / "d.yaml", tmp_path / "run" / "deck.yaml", ["run.seed=9"])
    assert load_deck(out).preparation.file == str(tmp_path / "src" / "stable.h5")
