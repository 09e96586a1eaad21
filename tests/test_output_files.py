"""Output files: atomic replacement, and the end-of-run flush of a grading run."""

from __future__ import annotations

import os

import pytest

from autograder.grading import files


def _record_fsyncs(monkeypatch) -> list[str]:
    """The paths fsync is called on, in order."""
    calls: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    return calls


def test_a_write_outside_a_run_is_flushed_at_once(tmp_path, monkeypatch):
    calls = _record_fsyncs(monkeypatch)
    files.write_atomic(tmp_path / "grades.csv", "a,b\n")
    # The temporary file before it is renamed over grades.csv, then the folder for the rename.
    assert len(calls) == 2 and calls[1] == str(tmp_path)
    assert calls[0].startswith(str(tmp_path / ".grades.csv."))
    assert calls[0].endswith(files.TEMP_SUFFIX)


def test_writes_in_a_run_are_replaced_at_once_and_flushed_together_at_its_end(
    tmp_path, monkeypatch
):
    calls = _record_fsyncs(monkeypatch)
    names = [tmp_path / "a.json", tmp_path / "sub" / "b.json", tmp_path / "a.json"]
    with files.deferred_sync():
        for i, path in enumerate(names):
            files.write_atomic(path, f"{i}")
        assert calls == []  # nothing flushed yet...
        assert (tmp_path / "a.json").read_text() == "2"  # ...but every file already replaced
        with files.deferred_sync():  # nested: the outer block flushes
            files.write_atomic(tmp_path / "c.json", "3")
        assert calls == []
    files_flushed = [c for c in calls if not os.path.isdir(c)]
    assert sorted(files_flushed) == sorted(
        str(p) for p in (tmp_path / "a.json", tmp_path / "sub" / "b.json", tmp_path / "c.json")
    )
    assert {c for c in calls if os.path.isdir(c)} == {str(tmp_path), str(tmp_path / "sub")}
    assert not list(tmp_path.rglob(f"*{files.TEMP_SUFFIX}"))


def test_a_run_that_fails_still_flushes_what_it_wrote(tmp_path, monkeypatch):
    calls = _record_fsyncs(monkeypatch)
    with pytest.raises(KeyboardInterrupt), files.deferred_sync():
        files.write_atomic(tmp_path / "state.json", "{}")
        raise KeyboardInterrupt
    assert str(tmp_path / "state.json") in calls
