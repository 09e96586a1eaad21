"""Given in Exercise 6: ``char_rnn_init`` (the starting weights), ``clip_grad_norm``
(Exercise 5's answer) and ``adagrad_step`` (the update), which train your loss function."""

import sys

from autograder import handouts

handouts.hand_out(sys.modules[__name__], ("char_rnn_init", "clip_grad_norm", "adagrad_step"))
del sys, handouts
