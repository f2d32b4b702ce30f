"""Output and restart: H5MD 1.1 layout and collective writer, readers, checkpoints, signals.

``layout`` is pure (no h5py) so post-processing can import the names without the writer.
"""
