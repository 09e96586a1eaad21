"""Given in Exercise 5: ``rnn_forward`` and ``rnn_cell_backward`` (with its ``CellCache``), the
answers to Exercises 1 and 2, which the learner's ``hidden_grad_norms`` runs forward and then
back, step by step, to measure how far back the gradient reaches."""

import sys

from autograder import handouts

handouts.hand_out(sys.modules[__name__], ("rnn_forward", "rnn_cell_backward", "CellCache"))
del sys, handouts
