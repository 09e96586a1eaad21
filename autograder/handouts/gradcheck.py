"""Given back from Exercise 2 in the exercises that follow it: ``numerical_gradient`` (your
central differences), ``rel_error`` (to compare two gradients), and ``gradient_check`` with
``gradient_check_table``, which run them over every parameter of a loss and print one row each."""

import sys

from autograder import handouts

handouts.hand_out(
    sys.modules[__name__],
    ("numerical_gradient", "rel_error", "gradient_check", "gradient_check_table"),
)
del sys, handouts
