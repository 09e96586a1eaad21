"""``python -m autograder`` is the same as the ``rnn-course`` command."""

from autograder.cli import main

raise SystemExit(main())
