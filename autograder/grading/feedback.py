"""The feedback page a learner gets for one notebook: a self-contained HTML file.

For each test: the points, what went wrong in plain words, and, when the output matches a
typical mistake, which one and what to change. Then notes about running the notebook (cells
that were skipped, statements that raised). Everything shown is escaped: messages quote the
learner's own code and error messages.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.score { font-size: 1.2rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.points { white-space: nowrap; }
.passed { color: #17663a; } .partial { color: #8a5a00; } .other { color: #a4161a; }
.hint { margin: .3rem 0 0 0; padding: .3rem .6rem; background: #f4f6fb; border-left: 3px solid #5470c6; }
code { background: #f2f2f2; padding: 0 .2rem; }
footer { margin-top: 2rem; font-size: .85rem; color: #666; }
"""

_STATUS_WORDS = {
    "passed": "passed",
    "partial": "partly right",
    "failed": "wrong",
    "error": "raised an error",
    "missing": "missing",
    "timeout": "too slow",
    "crashed": "crashed",
    "unreadable": "unreadable",
}


def _esc(text: str) -> str:
    """Escape, and show `code` spans (backquotes in messages) as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _status_class(status: str) -> str:
    return status if status in ("passed", "partial") else "other"


def render(report) -> str:
    """The page for one notebook (``report`` is a :class:`.record.Report`)."""
    from .record import points

    assignment = report.assignment
    title = assignment.title or assignment.name
    total = sum(points(t.points, v) for t, v in zip(assignment.tests, report.verdicts, strict=True))
    rows, sections = [], []
    for test, verdict in zip(assignment.tests, report.verdicts, strict=True):
        got = points(test.points, verdict)
        cls = _status_class(verdict.status)
        word = _STATUS_WORDS.get(verdict.status, verdict.status)
        message = "" if verdict.status == "passed" else _esc(verdict.message)
        rows.append(
            f"<tr><td><code>{html.escape(test.id)}</code><br>{_esc(test.about)}</td>"
            f'<td class="points">{got:g} / {test.points:g}</td>'
            f'<td class="{cls}">{html.escape(word)}</td><td>{message}</td></tr>'
        )
        if verdict.details and verdict.status != "passed":
            hints = "".join(f'<p class="hint">{_esc(d)}</p>' for d in verdict.details)
            sections.append(f"<h3><code>{html.escape(test.id)}</code></h3>{hints}")
    notes = list(report.notes)
    if report.result is not None:
        for error in report.result.program_errors:
            where = error.get("where") or {}
            line = f", line {where['line']}" if where.get("line") else ""
            code = f" (`{where['code']}`)" if where.get("code") else ""
            notes.append(
                f"{error.get('origin', 'a cell')}{line}{code} raised {error.get('type')}: "
                f"{error.get('message', '')}"
            )
    note_html = "".join(f"<li>{_esc(n)}</li>" for n in notes)
    entropy, index = report.seed
    stamp = report.graded_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}: feedback for {html.escape(report.student)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Feedback for <strong>{html.escape(report.student)}</strong> on
<code>{html.escape(report.notebook)}.ipynb</code>.</p>
<p class="score">{total:g} / {assignment.max_points:g} points</p>
<table><thead><tr><th>test</th><th>points</th><th>result</th><th>what happened</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{"<h2>What to change</h2>" + "".join(sections) if sections else ""}
{"<h2>Notes on running your notebook</h2><ul>" + note_html + "</ul>" if notes else ""}
<footer>Graded {stamp}. Only the functions, classes and variables the exercise asks for were
taken from your notebook, with what they need; they were run on fresh random inputs (seed
{entropy}, submission {index}) and their results compared with the course's references.</footer>
</body></html>
"""
