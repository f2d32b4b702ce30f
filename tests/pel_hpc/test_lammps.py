"""Energy, forces and pressure equal LAMMPS (Debian ``lmp``) on the identical configuration."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "lammps"))
import ka_lammps  # noqa: E402

from pel_hpc.md.domain import SerialDomain  # noqa: E402
from pel_hpc.md.forces import compute_forces  # noqa: E402
from pel_hpc.md.observables import pressure  # noqa: E402
from pel_hpc.physics.kob_andersen import pair_table  # noqa: E402

pytestmark = pytest.mark.skipif(ka_lammps.lmp_binary() is None, reason="LAMMPS 'lmp' is not installed")

SCRIPT = """{head}
thermo_style custom step pe press
thermo_modify norm no format float %.16g
dump d all custom 1 forces.dump id fx fy fz
dump_modify d format float %.17g sort id
run 0
"""


@pytest.mark.parametrize("fixture,cutoff", [("liquid65", 1.8), ("liquid500", 2.5), ("random1000", 2.5)])
def test_energy_forces_pressure_equal_lammps(request, tmp_path, fixture, cutoff):
    state = request.getfixturevalue(fixture).copy()
    table = pair_table(cutoff)
    dom = SerialDomain(table.rc_max, 0.3)
    dom.setup(state)
    epot, vir = compute_forces(state, dom, table)
    n = state.n_local
    x, typ, f = (dom.gather_by_tag(state, a) for a in (state.x, state.typ, state.f))
    ka_lammps.write_data(tmp_path / "ka.data", x, typ, state.box)  # zero velocities: P is the virial part
    log = ka_lammps.run(tmp_path, SCRIPT.format(head=ka_lammps.header("ka.data", cutoff)))
    _, pe, press = ka_lammps.thermo_rows(log)[-1]
    f_lmp = ka_lammps.read_dump_forces(tmp_path / "forces.dump")
    assert epot == pytest.approx(pe, rel=1e-12)
    assert pressure(0.0, vir, state.volume) == pytest.approx(press, rel=1e-10)
    assert np.max(np.abs(f - f_lmp)) <= 1e-11 * np.max(np.abs(f_lmp))
    assert n == len(f_lmp)
