"""Synthetic pel_hpc-layout H5MD files for post-processing tests (names from pel_hpc.io.layout)."""
import h5py
import numpy as np

from pel_hpc.io import layout as L


def write_file(path, temperature, time, e_is_per_particle, box, species, x_md=None, image=None, x_is=None,
               name="synthetic"):
    """IS energies on the clock ``time`` (steps = time/0.005), optional positions/images and IS positions."""
    steps = np.round(np.asarray(time) / 0.005).astype(np.int64)
    with h5py.File(path, "w") as f:
        deck = f"run: {{name: {name}}}\nintegrator: {{temperature: {temperature}}}\n"
        f.create_group(L.PARAMETERS).create_dataset(L.DECK, data=deck)
        f[L.PARAMETERS].attrs[L.ATTR_GIT_COMMIT] = "synthetic"
        f[f"{L.box_path(0)}/{L.EDGES}"] = np.asarray(box, float)
        f[f"{L.particles_path(0)}/{L.SPECIES}"] = np.asarray(species, np.int32)
        series = [(L.observable_path(0, L.IS_ENERGY), e_is_per_particle)]
        if x_md is not None:
            series += [(L.element_path(0, L.POSITION), x_md), (L.element_path(0, L.IMAGE), image)]
        if x_is is not None:
            series.append((L.element_path(0, L.INHERENT_STRUCTURE), x_is))
        for path_, val in series:
            g = f.create_group(path_)
            g[L.STEP], g[L.TIME], g[L.VALUE] = steps, np.asarray(time, float), val
    return path


def hopping_trajectory(rng, n_particles=20, n_frames=6000, dt=0.1, mean_tau=2.0, box=6.0):
    """Particles that hop between MB configurations (exponential waiting times) plus vibrations.

    Every MB transition moves every particle by N(0, 0.03²) and two random particles by N(0, 0.5²)
    per component; each MB holds two IS that alternate (forward–backward correlations to be merged).
    Returns (time, e_total, x_md_unwrapped, x_is_unwrapped).
    """
    time = np.arange(n_frames) * dt
    jumps = np.cumsum(rng.exponential(mean_tau, size=n_frames))
    mb_of_frame = np.searchsorted(jumps, time, side="right")
    n_mb = mb_of_frame[-1] + 1
    disp = rng.normal(0, 0.03, (n_mb, n_particles, 3))
    for j in range(n_mb):
        disp[j, rng.choice(n_particles, 2, replace=False)] += rng.normal(0, 0.5, (2, 3))
    disp[0] = rng.uniform(0, box, (n_particles, 3))
    conf = np.cumsum(disp, axis=0)
    sub = rng.integers(0, 2, n_frames)  # which of the MB's two IS
    e_mb = rng.uniform(-400.0, -380.0, n_mb)
    e_total = e_mb[mb_of_frame] + 0.01 * sub
    x_is = conf[mb_of_frame] + 0.002 * sub[:, None, None]
    x_md = x_is + rng.normal(0, 0.05, x_is.shape)
    return time, e_total, x_md, x_is


def write_hopping_file(path, rng, temperature=0.5, **kw):
    """A file with positions, images and IS positions at every frame from :func:`hopping_trajectory`."""
    box = kw.get("box", 6.0)
    time, e_total, x_md, x_is = hopping_trajectory(rng, **kw)
    n = x_md.shape[1]
    image = np.floor(x_md / box).astype(np.int32)
    return write_file(path, temperature, time, e_total / n, np.full(3, box), np.zeros(n, np.int32),
                      x_md=x_md - image * box, image=image, x_is=x_is % box, name=f"hop_T{temperature}")
