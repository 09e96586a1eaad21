"""Sphinx extension: a cell's printed text is shown exactly as it was printed.

The kernel sends what a cell prints in chunks, and where a chunk ends depends on timing: one
``print`` may arrive as ``"step 1: ..."`` and then ``"\\nstep 2: ..."``. myst-nb's
``nb_merge_streams`` strips each chunk's trailing white space and adds one newline, so a chunk
that starts with the newline of the previous line shows as a blank line, on one build and not
on the next. This joins consecutive chunks of the same stream as they came, before myst-nb's own
merge runs, so the page shows the text the cell printed, the same on every build and in both
languages.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def join_chunks(outputs: list[Any]) -> list[Any]:
    """Consecutive stream outputs of one stream (stdout or stderr) joined into one, verbatim."""
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            merged = type(previous)(previous)
            merged["text"] = previous["text"] + output["text"]
            joined[-1] = merged
        else:
            joined.append(output)
    return joined


def setup(app: Sphinx) -> dict[str, Any]:
    from myst_nb.core import render

    original = getattr(render.coalesce_streams, "__wrapped__", render.coalesce_streams)

    def coalesce_streams(outputs: list[Any]) -> list[Any]:
        return original(join_chunks(list(outputs)))

    coalesce_streams.__wrapped__ = original  # type: ignore[attr-defined]
    render.coalesce_streams = coalesce_streams
    return {"parallel_read_safe": True, "parallel_write_safe": True}
