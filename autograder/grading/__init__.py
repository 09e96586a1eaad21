"""The grading engine: load -> isolate -> run -> compare -> diagnose -> record.

* :mod:`.notebook` reads a submitted notebook leniently, and :mod:`.program` finds the code
  that defines the required names (load);
* :mod:`.sandbox` detects and configures the isolation (isolate);
* :mod:`.run` drives pre-warmed sandboxed workers (run); :mod:`.child` is their inside, and
  :mod:`.givens` the stand-in course package they may import;
* :mod:`.compare`, :mod:`.diagnose`, :mod:`.judges` and :mod:`.module_checks` are the pure core
  (compare, diagnose);
* :mod:`.record` and :mod:`.feedback` write grades.csv and the feedback pages (record);
* :mod:`.spec` holds the types that ``solutions/<NN_topic>/checks.py`` declare tests with,
  :mod:`.assignments` loads those declarations, :mod:`.inputs` draws their inputs and
  :mod:`.mistakes` computes the wrong versions their catalogues name;
* :mod:`.engine` chains the steps (``grade`` for a folder, ``check`` for one notebook);
  :mod:`.command` is the ``rnn-course grade`` command.
"""
