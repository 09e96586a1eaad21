"""nbgrader, imported once per process and by one thread at a time.

The grader imports nbgrader in a background thread (the gradebook's recorder, while the notebooks
run) and, now and then, in the main thread (reading a timestamp as nbgrader does, the late-work
plugin). nbgrader's packages import each other in a circle; when two threads import them at once,
Python's import machinery hands one of them the other's half-initialised module, and a name is
missing ("cannot import name ... from partially initialized module"). Every use of nbgrader in
the grader therefore calls :func:`load` first: the first caller imports it whole under a lock,
the others wait for it, and later calls cost nothing.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_loaded = False


def load() -> None:
    """Import what the grader uses of nbgrader, whole, before anything else touches it."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        # jsonschema (imported by nbformat, imported by nbgrader) builds 38 Lark grammars when
        # the optional rfc3987_syntax is installed, about a second of CPU, for IRI formats that
        # neither nbformat nor nbgrader validate: the grader's process leaves that module out.
        if "jsonschema" not in sys.modules:
            sys.modules.setdefault("rfc3987_syntax", None)
        import nbgrader.api  # noqa: F401
        import nbgrader.apps  # noqa: F401
        import nbgrader.coursedir  # noqa: F401
        import nbgrader.plugins  # noqa: F401
        import nbgrader.preprocessors  # noqa: F401
        import nbgrader.utils  # noqa: F401

        _loaded = True
