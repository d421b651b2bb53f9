"""Prefect flows: thin wiring, each task one service of ``src/coverage``; ids cross, PHI does not."""
