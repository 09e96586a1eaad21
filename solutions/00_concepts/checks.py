"""What the grader checks in 00_concepts: multiple-choice answers, each explained.

Everything comes from the solution notebook, concepts.ipynb, so that the questions, their
answers, their points and their explanations live in one place (autograder.grading.choices):
each graded cell tests one variable answer_qN; the right letter is the one the solution cell
assigns to it; the allowed letters are the bold options (**A.**, **B.**, ...) of the question;
the hidden tests' ``WHY`` dict explains every option. The feedback says whether an answer is
right, never which letter is, and explains the option chosen, right or wrong.
"""

from __future__ import annotations

from autograder.grading import choices
from autograder.grading.assignments import AssignmentError
from autograder.grading.spec import Assignment

NOTEBOOK = "concepts.ipynb"
VARIABLE = r"answer_q\d+"


def questions(notebook):
    """``[(grade id, variable, points, right letter, allowed letters)]`` of the notebook."""
    return [
        (q.grade_id, q.variable, q.points, q.letter, q.choices)
        for q in choices.questions(notebook, VARIABLE)
    ]


def build(folder):
    notebook = folder / NOTEBOOK
    if not notebook.exists():
        raise AssignmentError(f"00_concepts needs its solution notebook {notebook} for the answers")
    unexplained = [q.grade_id for q in choices.questions(notebook, VARIABLE) if not q.why]
    if unexplained:
        raise AssignmentError(f"{notebook.name}: no WHY for every option in {unexplained}")
    tests = choices.tests(notebook, VARIABLE)
    if not tests:
        raise AssignmentError(f"{notebook} has no graded answer cells")
    # Answers are letters: graded where PyTorch is neither loaded nor offered, which is fast.
    return Assignment(
        "00_concepts", NOTEBOOK, tests, title="Exercise 0: concept checks", numpy_only=True
    )
