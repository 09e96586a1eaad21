"""Write the sample submissions the instructor guide grades at build time.

    python bench/make_submissions.py           # (re)write book/instructor/sample_submitted/
    python bench/make_submissions.py --check   # exit 1 if the committed files are out of date

One student folder per kind a grader meets most often (see :func:`submissions.samples`):
``correct``, ``mistake_carry`` (the state never carried from step to step), ``mistake_transpose``
(W_hh transposed), ``untouched`` and ``broken`` (a blank notebook saved over the exercise), each holding
``01_rnn_cell/rnn_cell.ipynb`` as a learning platform would hand it over. They are built from
exercises/ and solutions/, so run this again whenever those change.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import submissions

SAMPLES = submissions.ROOT / "book" / "instructor" / "sample_submitted"


def stale(folder: Path = SAMPLES) -> list[str]:
    """What differs between the committed samples and what this script would write."""
    expected = {sub.relative_path.as_posix(): sub.content for sub in submissions.samples()}
    found = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    return sorted(
        path for path in expected.keys() | found.keys() if expected.get(path) != found.get(path)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    args = parser.parse_args(argv)
    if args.check:
        differ = stale() if SAMPLES.is_dir() else ["(no samples)"]
        for path in differ:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if differ else 0
    shutil.rmtree(SAMPLES, ignore_errors=True)
    for path in submissions.write(submissions.samples(), SAMPLES):
        print(path.relative_to(submissions.ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
