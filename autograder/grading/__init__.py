"""The grading engine: load -> isolate -> run -> compare -> diagnose -> record.

* :mod:`.notebook` reads a submitted notebook leniently (load);
* :mod:`.program` finds the code that defines the required names (load);
* :mod:`.sandbox` detects and configures the isolation (isolate);
* :mod:`.run` drives pre-warmed sandboxed workers (run); :mod:`.child` is their inside;
* :mod:`.compare`, :mod:`.diagnose` and :mod:`.judges` are the pure core (compare, diagnose);
* :mod:`.record` and :mod:`.feedback` write grades.csv and feedback pages (record);
* :mod:`.spec` holds the types that ``solutions/<NN_topic>/checks.py`` declares tests with, and
  :mod:`.assignments` loads those declarations; :mod:`.mistakes` holds wrong versions of the
  course's functions, shared by the declarations;
* :mod:`.engine` chains the steps; :mod:`.command` is the ``rnn-course grade`` command.
"""
