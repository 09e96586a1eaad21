"""The part of the grader that runs inside the sandbox, next to the student's code.

Everything here imports only the standard library, NumPy and PyTorch: this folder is the only
piece of the ``autograder`` package that the sandbox can see (mounted read-only on its own), so
the references and the assignments' checks stay out of the student's reach.

* :mod:`.wire` frames messages and turns values into JSON plus ``.npy`` bytes (never pickle);
* :mod:`.landlock` and :mod:`.confine` restrict a forked process (Landlock, rlimits, uid);
* :mod:`.zygote` imports NumPy and PyTorch once, then forks one child per submission;
* :mod:`.execute` is what that child does: run the notebook's code, then each test in a
  grandchild of its own, and send back the outputs.

Nothing a child sends is trusted: the parent validates every frame and compares every value
itself.
"""
