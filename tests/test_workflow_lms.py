"""Collecting an LMS download (a zip) into SUBMITTED/<student>/<assignment>/: the Canvas and
Moodle file-name conventions, a custom regular expression, every file not collected reported
with its reason, and a hostile zip that cannot write outside its folder or fill the disk."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.grading import lms

NOTEBOOK = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}'
ASSIGNMENTS = {"01_rnn_cell": "rnn_cell", "06_char_rnn": "char_rnn"}


def make_zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return path


def collected(dest: Path) -> set[str]:
    return {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}


def reasons(intake: lms.Intake) -> dict[str, str]:
    return {u["file"]: u["reason"] for u in intake.unmatched}


def test_canvas_names_give_the_user_id_the_file_and_the_late_mark(tmp_path):
    archive = make_zip(
        tmp_path / "canvas.zip",
        {
            "doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
            "smithbob_LATE_23456_6789013_rnn_cell-1.ipynb": NOTEBOOK,
            "leeann_34567_6789014_char_rnn.ipynb": NOTEBOOK,
            "leeann_34567_6789015_report.pdf": b"%PDF-1.4",
            "notes.ipynb": NOTEBOOK,
        },
    )
    dest = tmp_path / "submitted"
    intake = lms.collect(archive, dest, ASSIGNMENTS)
    assert intake.format == "canvas"
    assert collected(dest) == {
        "12345/01_rnn_cell/rnn_cell.ipynb",
        "23456/01_rnn_cell/rnn_cell-1.ipynb",
        "34567/06_char_rnn/char_rnn.ipynb",
    }
    assert (dest / "12345/01_rnn_cell/rnn_cell.ipynb").read_bytes() == NOTEBOOK
    log = intake.log()
    assert log["late"] == ["23456"] and log["collected"] == 3
    assert reasons(intake) == {
        "leeann_34567_6789015_report.pdf": "not a notebook (.ipynb)",
        "notes.ipynb": "the file name does not follow the canvas pattern",
    }
    assert len(log["warnings"]) == 2 and "notes.ipynb" in " ".join(log["warnings"])


def test_moodle_folders_and_flattened_names_give_the_participant_id_and_names(tmp_path):
    archive = make_zip(
        tmp_path / "moodle.zip",
        {
            "Jane Doe_12345_assignsubmission_file_/rnn_cell.ipynb": NOTEBOOK,
            "Bob van Smith_23456_assignsubmission_file_rnn_cell.ipynb": NOTEBOOK,
            "Jean-Luc de la Tour_34567_assignsubmission_file_/rnn_cell.ipynb": NOTEBOOK,
            "Bob van Smith_23456_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
        },
    )
    dest = tmp_path / "submitted"
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"})
    assert intake.format == "moodle"
    assert collected(dest) == {
        "12345/01_rnn_cell/rnn_cell.ipynb",
        "23456/01_rnn_cell/rnn_cell.ipynb",
        "34567/01_rnn_cell/rnn_cell.ipynb",
    }
    # A name is kept whole, as the LMS wrote it: no rule splits every name into first and last.
    assert intake.names == {
        "12345": {"last_name": "Jane Doe"},
        "23456": {"last_name": "Bob van Smith"},
        "34567": {"last_name": "Jean-Luc de la Tour"},
    }
    assert list(reasons(intake).values()) == ["not a notebook (.ipynb)"]


def test_any_other_lms_is_read_with_a_regular_expression(tmp_path):
    archive = make_zip(
        tmp_path / "other.zip",
        {
            "ps1_bitdiddle_attempt_2016-01-30-15-00-00_rnn_cell.ipynb": NOTEBOOK,
            "ps1_hacker_attempt_2016-01-30-15-00-00_rnn_cell.ipynb": NOTEBOOK,
        },
    )
    regexp = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+\.ipynb)"
    dest = tmp_path / "submitted"
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, regexp=regexp)
    assert intake.format == "custom" and not intake.unmatched
    assert collected(dest) == {
        "bitdiddle/01_rnn_cell/rnn_cell.ipynb",
        "hacker/01_rnn_cell/rnn_cell.ipynb",
    }
    with pytest.raises(lms.ZipError, match="student_id"):
        lms.collect(archive, dest, ASSIGNMENTS, regexp=r"(?P<file_id>.*)")
    with pytest.raises(lms.ZipError, match="not valid"):
        lms.collect(archive, dest, ASSIGNMENTS, regexp=r"(?P<student_id>")


def test_files_that_fit_no_assignment_or_no_folder_name_are_reported(tmp_path):
    archive = make_zip(
        tmp_path / "canvas.zip",
        {
            "doejane_12345_6789012_my_homework.ipynb": NOTEBOOK,
            "doejane_12345_6789012_.ipynb": NOTEBOOK,
            "__MACOSX/._doejane_12345_6789012_rnn_cell.ipynb": b"\x00\x05\x16\x07",
            "doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
        },
    )
    intake = lms.collect(archive, tmp_path / "submitted", ASSIGNMENTS, lms="canvas")
    assert reasons(intake) == {
        "doejane_12345_6789012_my_homework.ipynb": "cannot tell which assignment it belongs to: "
        "pass --assignment",
        "doejane_12345_6789012_.ipynb": "no usable file name after the student id",
        "__MACOSX/._doejane_12345_6789012_rnn_cell.ipynb": "macOS metadata, not a submission",
    }
    assert len(intake.collected) == 1
    # With one assignment named, every notebook goes to it, whatever the learner called it.
    one = lms.collect(archive, tmp_path / "one", {"01_rnn_cell": "rnn_cell"}, lms="canvas")
    assert "12345/01_rnn_cell/my_homework.ipynb" in collected(tmp_path / "one")
    assert len(one.collected) == 2


def test_a_hostile_zip_writes_nothing_outside_its_folder(tmp_path):
    archive = make_zip(
        tmp_path / "evil.zip",
        {
            "../doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
            "/etc/doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
            "C:/x/doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
            "sub\\..\\..\\doejane_12345_6789012_rnn_cell.ipynb": NOTEBOOK,
            "okay_3_4_rnn_cell.ipynb": NOTEBOOK,
        },
        links={"link_5_6_rnn_cell.ipynb": "/etc/passwd"},
    )
    root = tmp_path / "inside"
    dest = root / "submitted"
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, lms="canvas")
    unsafe = [f for f, why in reasons(intake).items() if why.startswith("unsafe entry")]
    assert len(unsafe) == 4  # the four paths leaving the folder
    assert "symbolic link" in reasons(intake)["link_5_6_rnn_cell.ipynb"]
    assert collected(dest) == {"3/01_rnn_cell/rnn_cell.ipynb"}
    assert {p.name for p in tmp_path.iterdir()} == {"evil.zip", "inside"}
    assert {p.name for p in root.iterdir()} == {"submitted"}
    # The link is not extracted: its student gets a dangling placeholder that names no file
    # (so that the engine gives a row with 0 and the reason), never the link's target.
    links = [p for p in dest.rglob("*") if p.is_symlink()]
    assert [str(p.relative_to(dest)) for p in links] == ["5/01_rnn_cell/rnn_cell.ipynb"]
    assert os.readlink(links[0]) == lms.LINK_TARGET and not links[0].exists()
    # A student id becomes a folder name: one like ".." never does.
    archive = make_zip(tmp_path / "ids.zip", {".._rnn_cell.ipynb": NOTEBOOK})
    regexp = r"(?P<student_id>[^_]+)_(?P<file_id>.+)"
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, regexp=regexp)
    assert reasons(intake) == {
        ".._rnn_cell.ipynb": "the student id '..' cannot be used as a folder name"
    }


def test_size_limits_are_counted_while_extracting(tmp_path):
    big = b"{" + b" " * (3 << 20) + b"}"  # compresses to a few kB: the header is not trusted
    archive = make_zip(
        tmp_path / "bomb.zip",
        {
            "a_1_2_rnn_cell.ipynb": big,
            "b_3_4_rnn_cell.ipynb": NOTEBOOK,
            "c_5_6_rnn_cell.ipynb": big,
        },
    )
    assert archive.stat().st_size < 100_000
    dest = tmp_path / "submitted"
    limits = lms.Limits(max_file_mb=2)
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, "canvas", limits=limits)
    assert collected(dest) == {"3/01_rnn_cell/rnn_cell.ipynb"}
    assert set(reasons(intake).values()) == {"larger than the 2 MB limit per file"}
    total = lms.Limits(max_file_mb=4, max_total_mb=5)
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, "canvas", limits=total)
    assert reasons(intake) == {"c_5_6_rnn_cell.ipynb": "the zip expands to more than 5 MB"}
    with pytest.raises(lms.ZipError, match="more than the 2"):
        lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"}, limits=lms.Limits(max_members=2))


def test_a_new_download_replaces_the_collected_folder(tmp_path):
    dest = tmp_path / "submitted"
    first = make_zip(tmp_path / "1.zip", {"a_1_2_rnn_cell.ipynb": NOTEBOOK})
    second = make_zip(tmp_path / "2.zip", {"b_3_4_rnn_cell.ipynb": NOTEBOOK})
    lms.collect(first, dest, {"01_rnn_cell": "rnn_cell"}, "canvas")
    lms.collect(second, dest, {"01_rnn_cell": "rnn_cell"}, "canvas")
    assert collected(dest) == {"3/01_rnn_cell/rnn_cell.ipynb"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.zip", "2.zip", "submitted"]


def test_a_zip_of_unknown_origin_or_no_zip_at_all_is_refused(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {"rnn_cell.ipynb": NOTEBOOK})
    with pytest.raises(lms.ZipError, match="pass --lms canvas"):
        lms.collect(archive, tmp_path / "s", ASSIGNMENTS)
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(lms.ZipError, match="cannot read"):
        lms.collect(tmp_path / "not.zip", tmp_path / "s", ASSIGNMENTS)
