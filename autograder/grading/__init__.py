"""The grading engine: load -> isolate -> run -> compare -> diagnose -> record.

* :mod:`.notebook` reads a submitted notebook leniently, and :mod:`.program` finds the code
  that defines the required names (load);
* :mod:`.sandbox` detects and configures the isolation (isolate);
* :mod:`.run` drives pre-warmed sandboxed workers (run); :mod:`.child` is their inside, and
  :mod:`.givens` the stand-in course package they may import; :mod:`.dask_pool` runs the same
  workers on a Dask cluster and checks what comes back here, as :mod:`.run` does;
* :mod:`.compare`, :mod:`.diagnose`, :mod:`.judges` and :mod:`.module_checks` are the pure core
  (compare, diagnose); :mod:`.compare` judges by the rule of :mod:`autograder.comparison`, which
  the notebooks' visible tests use too;
* :mod:`.record` and :mod:`.feedback` write grades.csv and the feedback pages, :mod:`.summary_page`
  the class's summary.html (both pages from the Jinja2 templates of ``templates/``, and, with the
  ``check`` table, from the one :mod:`.view` of a report), :mod:`.gradebook` the scores into nbgrader's gradebook (record);
  :mod:`.files` makes every write atomic and locks the output folder, :mod:`.state` saves each
  result as it is judged so that an interrupted batch resumes;
* :mod:`.lms` collects a Canvas or Moodle download into the submissions layout (intake);
* :mod:`.term` decides, across every download graded into one output folder, which files are
  graded, superseded or refused and which notebook counts (select), and :mod:`.late` judges
  late work by nbgrader's due dates, extensions and late-submission plugin;
* :mod:`.spec` holds the types that ``solutions/<NN_topic>/checks.py`` declare tests with,
  :mod:`.assignments` loads those declarations, :mod:`.inputs` draws their inputs and
  :mod:`.mistakes` computes the wrong versions their catalogues name;
* :mod:`.engine` chains the steps (``grade`` for a folder, ``check`` for one notebook);
  :mod:`.command` is the ``rnn-course grade`` command (with :mod:`.progress`), :mod:`.learner`
  the ``rnn-course check`` command.
"""
