"""Given in Exercise 2: ``rnn_forward``, Exercise 1's answer, which computes the states that
backpropagation through time runs back through."""

import sys

from autograder import handouts

handouts.hand_out(sys.modules[__name__], ("rnn_forward",))
del sys, handouts
