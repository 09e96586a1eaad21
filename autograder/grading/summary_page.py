"""Record: ``OUT/summary.html``, the instructor's view of a whole batch, in one file.

Per assignment: a histogram of the scores, the pass rate of every test, and the mistakes the
grader diagnosed most often (the same sentences the learners read in their feedback). Then the
isolation the submissions ran under, and where the submissions came from. Figures are drawn
with matplotlib and embedded as base64 PNG data URIs: the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from . import files
from .record import points, submitted

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figures img { max-width: 31rem; width: 100%; }
code { background: #f2f2f2; padding: 0 .2rem; }
.muted { color: #666; font-size: .9rem; }
"""

TOP_MISTAKES = 10


def _esc(text) -> str:
    return html.escape(str(text))


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(scores: list[float], max_points: float, title: str) -> str:
    """A histogram of the total scores, as a data URI."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.0))
    ax = fig.add_subplot()
    # One bar per possible score: whole points, half points when a score has a half.
    width = 1.0 if all(float(s).is_integer() for s in scores) else 0.5
    if max_points / width > 40:
        width = max_points / 40
    edges = np.arange(-width / 2, max_points + width, width)
    ax.hist(scores, bins=edges, color="#5470c6", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"points (out of {max_points:g})")
    ax.set_ylabel("notebooks")
    ax.set_title(title, fontsize=10)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def pass_rates(tests: list[str], passed: list[float], partial: list[float], title: str) -> str:
    """Horizontal bars: the share of notebooks passing each test (and partly passing)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 0.45 * len(tests) + 1.2))
    ax = fig.add_subplot()
    rows = list(range(len(tests)))[::-1]
    ax.barh(rows, passed, color="#17663a", label="passed")
    ax.barh(rows, partial, left=passed, color="#e0b040", label="partial credit")
    ax.set_yticks(rows, tests, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submitted notebooks")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    return _png(fig)


def _assignment_section(name: str, reports: list) -> str:
    assignment = reports[0].assignment
    handed_in = [r for r in reports if submitted(r)]
    title = assignment.title or name
    parts = [f"<h2>{_esc(title)} <code>{_esc(name)}</code></h2>"]
    parts.append(
        f"<p>{len(handed_in)} of {len(reports)} student(s) submitted a notebook"
        + (f"; {len(reports) - len(handed_in)} did not" if len(reports) > len(handed_in) else "")
        + ".</p>"
    )
    if not handed_in:
        return "".join(parts)
    scores = [r.points for r in handed_in]
    mean = sum(scores) / len(scores)
    ordered = sorted(scores)
    median = ordered[len(ordered) // 2]
    if len(ordered) % 2 == 0:
        median = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    parts.append(
        f"<p>Score: mean {mean:.2f}, median {median:g}, out of {assignment.max_points:g} "
        f"points; {sum(s == assignment.max_points for s in scores)} full mark(s).</p>"
    )
    rows, passed, partial = [], [], []
    mistakes: Counter = Counter()
    for i, test in enumerate(assignment.tests):
        verdicts = [r.verdicts[i] for r in handed_in]
        statuses = Counter(v.status for v in verdicts)
        n = len(verdicts)
        passed.append(100 * statuses["passed"] / n)
        partial.append(100 * statuses["partial"] / n)
        others = ", ".join(
            f"{count} {status}"
            for status, count in statuses.most_common()
            if status not in ("passed", "partial")
        )
        mean_points = sum(points(test.points, v) for v in verdicts) / n
        rows.append(
            f"<tr><td><code>{_esc(test.id)}</code></td><td class='n'>{test.points:g}</td>"
            f"<td class='n'>{passed[-1]:.0f}%</td><td class='n'>{statuses['partial']}</td>"
            f"<td>{_esc(others)}</td><td class='n'>{mean_points:.2f}</td></tr>"
        )
        for verdict in verdicts:
            if verdict.status != "passed":
                for detail in dict.fromkeys(verdict.details):
                    mistakes[(test.id, detail)] += 1
    parts.append(
        "<div class='figures'>"
        f"<img alt='histogram of the scores of {_esc(name)}' "
        f"src='{histogram(scores, assignment.max_points, f'Scores: {name}')}'>"
        f"<img alt='pass rate per test of {_esc(name)}' "
        f"src='{pass_rates([t.id for t in assignment.tests], passed, partial, f'Pass rate: {name}')}'>"
        "</div>"
    )
    parts.append(
        "<h3>Pass rate per test</h3><table><thead><tr><th>test</th><th>points</th>"
        "<th>passed</th><th>partial</th><th>other results</th><th>mean points</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    parts.append("<h3>Most frequent diagnosed mistakes</h3>")
    if mistakes:
        top = mistakes.most_common(TOP_MISTAKES)
        items = "".join(
            f"<tr><td><code>{_esc(test_id)}</code></td><td>{_esc(detail)}</td>"
            f"<td class='n'>{count}</td><td class='n'>{100 * count / len(handed_in):.0f}%</td></tr>"
            for (test_id, detail), count in top
        )
        parts.append(
            "<table><thead><tr><th>test</th><th>diagnosis (as the learners read it)</th>"
            f"<th>notebooks</th><th>share</th></tr></thead><tbody>{items}</tbody></table>"
        )
    else:
        parts.append("<p class='muted'>No failing output matched a catalogued mistake.</p>")
    return "".join(parts)


def _intake_section(intake: dict | None) -> str:
    if not intake:
        return ""
    unmatched = intake.get("unmatched", [])
    items = "".join(
        f"<li><code>{_esc(item['file'])}</code>: {_esc(item['reason'])}</li>" for item in unmatched
    )
    late = intake.get("late", [])
    return (
        "<h2>Where the submissions came from</h2>"
        f"<p><code>{_esc(intake.get('zip', ''))}</code> "
        f"({_esc(intake.get('format', ''))} file names): {intake.get('collected', 0)} file(s) "
        f"collected, {len(unmatched)} not.</p>"
        + (f"<p>Late (marked by the LMS): {_esc(', '.join(late))}</p>" if late else "")
        + (f"<h3>Files not collected</h3><ul>{items}</ul>" if items else "")
    )


def render(summary, intake: dict | None = None) -> str:
    by_assignment: dict[str, list] = {}
    for report in summary.reports:
        by_assignment.setdefault(report.assignment.name, []).append(report)
    sections = "".join(_assignment_section(name, rs) for name, rs in by_assignment.items())
    isolation = summary.isolation
    layers = "".join(f"<li>{_esc(layer)}</li>" for layer in isolation.layers)
    warnings = "".join(f"<li>{_esc(w)}</li>" for w in summary.warnings)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Grading summary</title>
<style>{_STYLE}</style></head>
<body>
<h1>Grading summary</h1>
<p>{len(summary.reports)} notebook(s) of {len({r.student for r in summary.reports})} student(s):
{summary.graded} graded in this run, {summary.unchanged} unchanged since an earlier run and
not graded again. Written {stamp}.</p>
{sections or "<p>Nothing was graded.</p>"}
<h2>Isolation</h2>
<p>Every submission ran under isolation level <strong>{_esc(isolation.level)}</strong>:</p>
<ul>{layers}</ul>
{_intake_section(intake)}
{"<h2>Warnings</h2><ul>" + warnings + "</ul>" if warnings else ""}
</body></html>
"""


def write(path: Path, summary, intake: dict | None = None) -> Path:
    return files.write_atomic(path, render(summary, intake))
