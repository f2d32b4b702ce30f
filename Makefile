# pel_hpc — the two commands of the README:
#   make run    install whatever is missing, then run the laptop-scale study (MD campaigns ->
#               post-processing -> report/index.html), about 3 minutes on 2 cores from a fresh clone
#   make demo   the same set-up, then only the small default deck input/demo.yaml (about a minute)
#   make test   install whatever is missing, then run the whole test suite (serial + mpirun -n 1/2/3/4)
# Both are idempotent: a second call skips everything already installed within seconds.
# Set-up follows ../shared/STACK.md (Debian Open MPI + parallel HDF5, h5py built against it).

SHELL       := /bin/bash
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(VENV)/bin/pip
NP          ?= 2
DECK        ?= input/demo.yaml
MPIRUN      := mpirun --oversubscribe
APT_PKGS    := libopenmpi-dev openmpi-bin libhdf5-openmpi-dev pkg-config lammps slurm-wlm munge
PY_PKGS     := numpy numba scipy pyyaml pytest mpi4py "setuptools>=77" cython pkgconfig matplotlib MDAnalysis pyh5md

# Open MPI refuses root without these (containers, CI); one thread per MPI rank unless a deck says otherwise.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export PYTHONUNBUFFERED := 1

.PHONY: run demo test setup bench clean-cache
run: setup
	$(PY) jobs/study_laptop.py --np $(NP)

demo: setup
	$(MPIRUN) -n $(NP) $(VENV)/bin/pel-hpc run $(DECK) --overwrite

test: setup
	$(PY) -m pytest -q -m "not mpi" tests
	$(MPIRUN) -n 1 $(PY) -m pytest -q -m mpi tests/mpi
	$(MPIRUN) -n 2 $(PY) -m pytest -q -m mpi tests/mpi
	$(MPIRUN) -n 3 $(PY) -m pytest -q -m mpi tests/mpi
	$(MPIRUN) -n 4 $(PY) -m pytest -q -m mpi tests/mpi

bench: setup
	$(PY) benchmarks/bench_md.py
	$(PY) benchmarks/bench_decomp.py
	$(PY) benchmarks/bench_sync.py
	$(PY) benchmarks/bench_io.py
	$(PY) benchmarks/bench_clm.py
	$(PY) benchmarks/validation_ka.py --quick

setup: $(VENV)/.stamp-package

# --- system packages (root; apt-get update only when something is missing) ---
$(VENV)/.stamp-apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@test -d $(VENV) || python3 -m venv $(VENV)
	@touch $@

# --- Python packages in the venv ---
$(VENV)/.stamp-pip: $(VENV)/.stamp-apt
	$(PIP) install -q --upgrade pip >/dev/null
	$(PIP) install -q $(PY_PKGS)
	@touch $@

# --- h5py against Debian's parallel HDF5 (about 3 minutes the first time; cached wheel afterwards) ---
$(VENV)/.stamp-h5py: $(VENV)/.stamp-pip
	@$(PY) -c "import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 1)" 2>/dev/null || \
	  CC=mpicc HDF5_MPI=ON HDF5_PKGCONFIG_NAME=hdf5-openmpi \
	  $(PIP) install -q --no-binary=h5py --no-build-isolation --force-reinstall --no-deps h5py
	$(PY) -c "import h5py; assert h5py.get_config().mpi, 'h5py lacks MPI support'"
	@touch $@

# --- the project itself, editable, so `pel-hpc` and `python -m pel_hpc` run the working tree ---
$(VENV)/.stamp-package: $(VENV)/.stamp-h5py setup.cfg pyproject.toml
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@touch $@

clean-cache:
	rm -rf .numba_cache
