"""``python -m coverage`` runs the ``priorauth`` command line."""

from coverage.cli import run

run()
