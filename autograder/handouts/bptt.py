"""Given in Exercise 2: ``rnn_forward``, Exercise 1's answer, which computes the states that
backpropagation through time runs back through, and ``rel_error``, to compare two gradients."""

import sys

from autograder import handouts

handouts.hand_out(sys.modules[__name__], ("rnn_forward", "rel_error"))
del sys, handouts
