"""The documentation of prior treatment that goes to the payer: trial history, scores, safety, criteria.

:func:`assemble_documentation` turns a case, its determination and the payer's policy into a
:class:`Documentation` record that templates print; :func:`score_chart_svg` draws the
rating-scale history. Pure functions: no I/O, no WeasyPrint.
"""

from coverage.documentation.chart import score_chart_svg
from coverage.documentation.history import (
    CriterionRow,
    Documentation,
    ResponseRow,
    SafetyItem,
    ScoreRow,
    TrialRow,
    assemble_documentation,
)

__all__ = [
    "CriterionRow",
    "Documentation",
    "ResponseRow",
    "SafetyItem",
    "ScoreRow",
    "TrialRow",
    "assemble_documentation",
    "score_chart_svg",
]
