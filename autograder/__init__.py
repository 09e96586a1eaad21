"""RNN course autograder: reference implementations, grading engine and command-line tools."""

__version__ = "0.1.0"
