"""Structural analysis the engine itself needs (LJ units); post-processing builds on it, never the reverse."""
