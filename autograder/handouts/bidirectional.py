"""Given in Exercise 3: ``rnn_forward`` and ``rnn_backward`` (with its ``SequenceCache``), the
answers to Exercises 1 and 2, which a bidirectional RNN runs once in each direction."""

import sys

from autograder import handouts

handouts.hand_out(sys.modules[__name__], ("rnn_forward", "rnn_backward", "SequenceCache"))
del sys, handouts
