"""CLM figure commands (Figs. 6, 8, 9, 10) on a tiny scan: PNG written, CSV numbers consistent."""
import numpy as np
import pytest

from postprocess.clm import scan
from postprocess.clm.lattice import make_lattice
from postprocess.figures import fig06, fig08, fig09, fig10

YAML = """
grid: {temperature: [0.8, 1.0], q: [0.0, 0.05, 0.2], shape: [[5, 5, 5]], r_max: [null, 2.0]}
run: {duration: 200.0, n_blocks: 4}
"""


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("clmfig")
    (d / "s.yaml").write_text(YAML)
    scan.run_scan(scan.load_scan(d / "s.yaml"), d / "s.h5", log=lambda *_: None)
    return d / "s.h5"


def test_fig10_q_eff_and_reduction(scan_file, tmp_path):
    assert fig10.main([str(scan_file), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig10.png").stat().st_size > 1000
    data = np.loadtxt(tmp_path / "fig10.csv", delimiter=",", skiprows=2)
    t, r_max, n_eff, q, q_eff, ratio, err = data.T
    assert np.allclose(q_eff, n_eff * q)
    assert np.allclose(n_eff[np.isnan(r_max)], 6.0)
    assert np.allclose(n_eff[r_max == 2.0], make_lattice((5, 5, 5), 2.0).n_eff)
    # τα falls with q at fixed T and range
    for key in ((0.8, 6.0), (1.0, 6.0)):
        rows = (t == key[0]) & (n_eff == key[1])
        assert np.all(np.diff(ratio[rows][np.argsort(q[rows])]) < 0)


@pytest.mark.parametrize("module", [fig06, fig08, fig09])
def test_other_figures_write_png(scan_file, tmp_path, module):
    assert module.main([str(scan_file), "--out", str(tmp_path)]) == 0
    assert any(p.suffix == ".png" and p.stat().st_size > 1000 for p in tmp_path.iterdir())


def test_fig06_q_from_md_table(scan_file, tmp_path):
    """An MD reduction equal to the CLM's at q = 0.05 is inverted to q ≈ 0.05; ≥ 1 gives q = 0."""
    from postprocess.clm.scan import read_results
    from postprocess.clm.summary import reduction, select, summarise
    table = summarise(read_results(scan_file))
    table = select(table, np.isnan(table["r_max"]))
    ratio, _ = reduction(table)
    r05 = ratio[(table["temperature"] == 0.8) & (table["q"] == 0.05)][0]
    md = tmp_path / "md.csv"
    md.write_text(f"T,N,tau_alpha,D\n0.8,65,1.0,1.0\n0.8,8320,{r05},1.0\n1.0,65,1.0,1.0\n1.0,8320,1.1,1.0\n")
    q = fig06.md_couplings(table, md)
    assert q[0.8][1] == pytest.approx(0.05, rel=1e-9) and q[1.0][1] == 0.0
    assert fig06.main([str(scan_file), "--md", str(md), "--out", str(tmp_path)]) == 0
