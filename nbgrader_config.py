"""nbgrader configuration of the course (read by every `nbgrader` command run from this folder).

solutions/<NN_topic>/ holds the instructor notebooks (nbgrader's "source" step); exercises/ is
generated from them by `nbgrader generate_assignment NN_topic` and committed. The gradebook lives
in the git-ignored .nbgrader/ folder. Regenerate everything with
`python solutions/build_notebooks.py --release`.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# SQLite creates the database file, not its folder.
(ROOT / ".nbgrader").mkdir(exist_ok=True)
c.CourseDirectory.db_url = f"sqlite:///{ROOT / '.nbgrader' / 'gradebook.db'}"
# Only the notebooks (and data an assignment folder may hold) are released: never the notebook
# sources in solutions/_src/, the build script, caches or checkpoints.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "_src",
    "*.py",
]

# Every stub the learner sees; the comment or docstring above it says what to write there.
c.ClearSolutions.code_stub = {
    # Short enough to stay within the line length inside a method (8 spaces of indent).
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your answer (see the comments above).")'
}

# Training cells take a few seconds on a laptop; leave room for a slow machine.
c.Execute.timeout = 180
