"""diagnose --output that cannot be written (SPEC §5, §7): exit 2 naming --output and the path,
checked before the diagnosis; a late failure (a full disk) still shows the report."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest
from click.testing import CliRunner

from nnfix.cli import main
from nnfix.run import files

from .conftest import CONFIGS

ZERO = str(CONFIGS / "story-zero-init.yaml")  # Y101: an error, exit 1


def invoke(*args):
    return CliRunner().invoke(main, ["diagnose", ZERO, "--quick", *args])


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text("")
    return tmp_path


@pytest.fixture
def no_diagnosis(monkeypatch):
    """Fail the test if the diagnosis runs: the output is checked first."""
    from nnfix.diagnose import run

    def ran(*args, **kwargs):
        raise AssertionError("the diagnosis ran before --output was checked")

    monkeypatch.setattr(run, "run", ran)


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("", "--output '': an empty path is not a file name"),
        ("spec.yaml/r.json", "--output spec.yaml/r.json: spec.yaml is a file, not a directory"),
        ("spec.yaml/a/b/r.json", "--output spec.yaml/a/b/r.json: spec.yaml is a file"),
        ("out/", "--output out/: names a directory, not a file"),
        ("gone/..", "--output gone/..: is a directory, not a file"),
    ],
)
def test_an_output_that_cannot_be_a_file_is_exit_2_before_the_diagnosis(
    in_tmp, no_diagnosis, output, says
):
    result = invoke("--format", "json", "--output", output)
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert "nnfix: 1 problem in the output location; nothing was run." in result.stderr
    assert "internal error" not in result.stderr and result.stdout == ""
    assert sorted(os.listdir(in_tmp)) == ["spec.yaml"]


def test_an_existing_directory_is_refused_by_click_naming_the_option(in_tmp):
    (in_tmp / "d").mkdir()
    result = invoke("--output", "d")
    assert (
        result.exit_code == 2
        and "'--output'" in result.output
        and "is a directory" in (result.output)
    )


def test_an_unwritable_directory_is_exit_2_before_the_diagnosis(in_tmp, no_diagnosis, monkeypatch):
    (in_tmp / "ro").mkdir()
    monkeypatch.setattr(files, "_access", lambda path, mode: os.path.basename(path) != "ro")
    result = invoke("--output", "ro/r.json")
    assert result.exit_code == 2
    assert "--output ro/r.json: cannot create anything in ro: permission denied" in result.stderr


def test_a_read_only_file_is_not_replaced(in_tmp, no_diagnosis, monkeypatch):
    (in_tmp / "r.json").write_text("mine")
    monkeypatch.setattr(files, "_access", lambda path, mode: os.path.basename(path) != "r.json")
    result = invoke("--output", "r.json")
    assert result.exit_code == 2 and "--output r.json: is read-only" in result.stderr
    assert (in_tmp / "r.json").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_read_only_directory_for_real(in_tmp):
    (in_tmp / "ro").mkdir(mode=0o555)
    result = invoke("--output", "ro/r.json")
    assert result.exit_code == 2 and "permission denied" in result.stderr


def test_missing_parent_directories_are_made(in_tmp):
    result = invoke("--output", "no/such/dir/r.json")
    assert result.exit_code == 1
    assert json.loads((in_tmp / "no/such/dir/r.json").read_text())["verdict"] == "fail"


def test_a_full_disk_after_the_diagnosis_is_exit_2_and_the_report_is_still_shown(
    in_tmp, monkeypatch
):
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_all", full)
    result = invoke("--output", "r.json")
    assert result.exit_code == 2
    assert "Y101 symmetric-init" in result.stdout  # the diagnosis is not lost
    assert "--output r.json: No space left on device" in result.stderr
    assert "the report above was not written" in result.stderr
    assert "internal error" not in result.stderr
    assert sorted(os.listdir(in_tmp)) == ["spec.yaml"]  # no temporary file left


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_the_report_file_gets_the_users_umask(in_tmp, mask, mode):
    previous = os.umask(mask)
    try:
        assert invoke("--output", "r.sarif").exit_code == 1
    finally:
        os.umask(previous)
    assert stat.S_IMODE((in_tmp / "r.sarif").stat().st_mode) == mode


def test_a_character_device_is_written_not_replaced(in_tmp):
    result = invoke("--format", "json", "--output", os.devnull)
    assert result.exit_code == 1
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
