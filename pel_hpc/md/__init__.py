"""The MD engine: neighbour lists, the one force kernel, integrators, minimiser, domains."""
