"""Record: the feedback page a learner gets for one notebook, a self-contained HTML file.

For each test: the points, what went wrong in plain words, and, when the output matches a
typical mistake, which one and what to change. Then notes about running the notebook (cells
that were skipped, statements that raised). The page shows the report's :mod:`.view`, through
the Jinja2 template ``templates/feedback.html.j2``, which escapes everything it shows: messages
quote the learner's own code and error messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from . import templates, view


def render(report) -> str:
    """The page for one notebook (``report`` is a :class:`.record.Report`)."""
    entropy, index = report.seed
    stamp = report.graded_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    from .term import page_lines

    return templates.render(
        "feedback.html.j2",
        view=view.build(report),
        stamp=stamp,
        entropy=entropy,
        index=index,
        handed_in=page_lines(report),  # the submission time, lateness, other files
        penalty=report.penalty,  # the late penalty, taken off the tests' points
    )
