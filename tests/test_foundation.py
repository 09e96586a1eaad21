"""The repository's entry points: README commands, the CLI, the offline-maths guard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from book_site import HTML, ROOT, book_pages


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md must open with a bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make book", "make test"]
    assert text.index("```bash") < text.index("## "), "the commands come before any section"


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    runs = [line.strip() for line in script.splitlines() if line.strip().startswith("make ")]
    assert runs == ["make test"]


@pytest.mark.parametrize(
    "argv", [["rnn-course", "--help"], [sys.executable, "-m", "autograder", "--help"]]
)
def test_cli_help_works(argv):
    if argv[0] == "rnn-course":
        argv = [str(Path(sys.executable).parent / "rnn-course"), "--help"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: rnn-course" in result.stdout


def test_vendor_mathjax_fails_loudly_without_npm(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no npm on this PATH
    result = subprocess.run(
        [sys.executable, str(ROOT / "book" / "_ext" / "vendor_mathjax.py"), str(tmp_path / "mj")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot vendor MathJax" in result.stderr and "npm" in result.stderr
    assert not (tmp_path / "mj").exists()


def test_sphinx_refuses_to_build_without_vendored_mathjax(tmp_path):
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import offline_mathjax
    finally:
        sys.path.pop(0)
    from sphinx.errors import ConfigError

    class App:
        confdir = str(tmp_path)

    class Config:
        mathjax_path = "../mathjax/tex-mml-chtml.js"

    with pytest.raises(ConfigError, match="not vendored"):
        offline_mathjax.check_vendored_mathjax(App(), Config())
    Config.mathjax_path = "https://cdn.example.org/mathjax/tex-mml-chtml.js"
    with pytest.raises(ConfigError, match="not a URL"):
        offline_mathjax.check_vendored_mathjax(App(), Config())
    entry = tmp_path / "_build" / "vendor" / "mathjax" / "tex-mml-chtml.js"
    entry.parent.mkdir(parents=True)
    entry.write_text("// MathJax")
    Config.mathjax_path = "../mathjax/tex-mml-chtml.js"
    offline_mathjax.check_vendored_mathjax(App(), Config())


def test_built_pages_load_no_cdn():
    pages = book_pages()
    missing = [p for p in pages if not (HTML / p).is_file()]
    assert pages and not missing, f"run `make book` first; missing {missing}"
    with_math = 0
    for page in pages:
        text = (HTML / page).read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//[^"]*"', text)
        assert not remote, f"{page} loads remote resources: {remote}"
        if 'class="math' in text:
            with_math += 1
            assert "mathjax/tex-mml-chtml.js" in text, f"{page} has maths but no vendored MathJax"
    assert with_math >= 5, "the chapters' maths went missing"
