"""The course folder every instructor command acts on, found the way nbgrader finds it.

A course folder is a folder with an ``nbgrader_config.py``: a clone of this repository, or any
folder laid out like it. Its configuration names the instructor notebooks
(``CourseDirectory.source_directory``, ``solutions/`` here: the notebooks, each assignment's
``checks.py``, the notebook sources in ``_src/``), the released notebooks
(``release_directory``, ``exercises/``) and the gradebook (``db_url``). A command takes the
folder given with ``--course DIR``, else the nearest folder with an ``nbgrader_config.py`` from
the working directory upwards; never the folder the package was installed from. What the grader
needs at run time whatever the course (the references, their data, the page templates) comes
from the installed package.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

CONFIG = "nbgrader_config.py"


class CourseError(Exception):
    """No course folder: the message says where it was looked for."""


@dataclass(frozen=True)
class Course:
    root: Path

    @cached_property
    def config(self):
        from autograder.grading.gradebook import course_config

        return course_config(self.root)

    def _folder(self, key: str, default: str) -> Path:
        settings = self.config.CourseDirectory
        base = Path(settings.get("root", str(self.root)))
        return (base / settings.get(key, default)).resolve()

    @property
    def source(self) -> Path:
        """The instructor notebooks and each assignment's checks.py (``solutions/``)."""
        return self._folder("source_directory", "source")

    @property
    def release(self) -> Path:
        """The student notebooks (``exercises/``)."""
        return self._folder("release_directory", "release")

    @property
    def db_url(self) -> str:
        from autograder.grading.gradebook import course_db_url

        return course_db_url(self.root)


def find(explicit: Path | None = None, start: Path | None = None) -> Course:
    """The course of ``explicit`` (``--course DIR``), else the nearest folder with an
    ``nbgrader_config.py`` from ``start`` (the working directory) upwards."""
    if explicit is not None:
        root = Path(explicit).expanduser().resolve()
        if not (root / CONFIG).is_file():
            raise CourseError(f"{explicit} is not a course folder: it has no {CONFIG}")
        return Course(root)
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG).is_file():
            return Course(folder)
    raise CourseError(
        f"no course folder: neither {here} nor a folder above it has an {CONFIG}; run the "
        "command inside the course folder, or pass --course DIR"
    )


COURSE_HELP = (
    "the course folder, the one with nbgrader_config.py (default: the nearest such folder "
    "from the working directory upwards, as nbgrader finds it)"
)


def add_course_option(parser) -> None:
    parser.add_argument("--course", type=Path, default=None, metavar="DIR", help=COURSE_HELP)
