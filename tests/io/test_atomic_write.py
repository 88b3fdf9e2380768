"""The package's one atomic-write helper: never half a file, and the mode of a plain open()."""

from __future__ import annotations

import os

import pytest

from flowgraph._atomic import atomic_write


def test_a_failing_writer_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"previous")

    def half(f):
        f.write(b"half of the new")
        raise KeyboardInterrupt  # even Ctrl-C in the middle

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half, suffix=".npz")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    old = os.umask(0o027)
    try:
        new = atomic_write(tmp_path / "sub" / "new.svg", lambda f: f.write(b"<svg/>"))
        (tmp_path / "plain").write_bytes(b"")  # what open() gives under this umask
    finally:
        os.umask(old)
    assert new == tmp_path / "sub" / "new.svg" and new.read_bytes() == b"<svg/>"
    assert new.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o640
    new.chmod(0o604)
    atomic_write(new, lambda f: f.write(b"<svg></svg>"))
    assert new.stat().st_mode & 0o777 == 0o604 and new.read_bytes() == b"<svg></svg>"
