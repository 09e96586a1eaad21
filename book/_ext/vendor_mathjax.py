"""Vendor MathJax 3 into the built site so that maths renders with no network.

Usage: python book/_ext/vendor_mathjax.py DEST

Fetches the npm package ``mathjax@3`` (pinned below) with ``npm pack`` from the npm registry and
unpacks its ``es5/`` folder, the combined component ``tex-mml-chtml.js`` with the extensions and
fonts it loads on demand, into DEST. Sphinx copies DEST into the site through ``html_extra_path``
(never ``_static/``, whose every ``.js`` file would be injected into every page).
Exits non-zero with a message when the package cannot be obtained: a book whose maths would show
as raw TeX is not built.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MATHJAX_PACKAGE = "mathjax@3.2.2"
ENTRY = "tex-mml-chtml.js"


def fail(message: str) -> None:
    print(f"ERROR: cannot vendor MathJax: {message}", file=sys.stderr)
    print(
        "The book needs a local copy of MathJax 3 (npm package mathjax@3) to render maths offline;"
        " install Node.js and npm, make sure the npm registry is reachable, and run `make book` again.",
        file=sys.stderr,
    )
    sys.exit(1)


def vendor(dest: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        fail("`npm` is not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [npm, "pack", MATHJAX_PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        tarballs = list(Path(tmp).glob("mathjax-*.tgz"))
        if result.returncode != 0 or not tarballs:
            fail(f"`npm pack {MATHJAX_PACKAGE}` failed:\n{result.stderr.strip()}")
        staging = Path(tmp) / "es5"
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")]
            for member in members:
                member.name = member.name.removeprefix("package/es5/")
            tar.extractall(staging, members=members, filter="data")
        if not (staging / ENTRY).is_file():
            fail(f"the package has no es5/{ENTRY}")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), dest)
    print(f"MathJax ({MATHJAX_PACKAGE}) vendored into {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    vendor(Path(sys.argv[1]))
