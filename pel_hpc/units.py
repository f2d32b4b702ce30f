"""Lennard-Jones units of pel_hpc and their HDF5 unit attributes.

All quantities are reduced by the A-particle parameters: length σ_AA, energy ε_AA, mass m,
Boltzmann constant k_B = 1, time τ = σ_AA·sqrt(m/ε_AA).  H5MD ``unit`` attributes use these
strings so that external readers see what every number means.
"""

K_B = 1.0
UNIT_SYSTEM = "Lennard-Jones reduced units (sigma_AA = epsilon_AA = m = k_B = 1)"

LENGTH = "sigma"
ENERGY = "epsilon"
TIME = "tau"
MASS = "m"
TEMPERATURE = "epsilon/k_B"
VELOCITY = "sigma/tau"
FORCE = "epsilon/sigma"
PRESSURE = "epsilon/sigma^3"
DENSITY = "sigma^-3"
DIMENSIONLESS = ""
