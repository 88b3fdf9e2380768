"""The package's one way of writing a file: to a temporary file beside it, then a rename.

``os.replace`` is atomic on POSIX and Windows when both names are in the same folder, so a
reader sees either the previous file or the complete new one, never half a file; a crash, a
full disk or an exception raised by the writer leaves the previous file as it was and removes
the temporary one. Models (:mod:`flowgraph.io`), pictures (:mod:`flowgraph.render`) and
downloads (:mod:`flowgraph.datasets.mnist`) all go through :func:`atomic_write`.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "file_mode"]


def file_mode(path: Path) -> int:
    """The permission bits a plain ``open(path, "w")`` would give: the existing file's, else
    0666 less the umask (read from /proc where there is one, so the process-wide umask is never
    set, not even for an instant, which would race with other threads)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        pass
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS, Windows): reading the umask means setting it
    os.umask(mask)
    return 0o666 & ~mask


def _stale_temporaries(path: Path, suffix: str) -> list[Path]:
    """Temporary files an earlier writer of ``path`` left behind when it was killed outright:
    named ``.NAME.PID.*SUFFIX`` by a process that is gone."""
    stale = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.append(tmp)
    return stale


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[bytes]], Any], *, suffix: str = ".tmp"
) -> Path:
    """Call ``write(f)`` on a binary file opened beside ``path``, then rename it onto ``path``.

    Parameters
    ----------
    path
        The file to (re)write; missing parent folders are created.
    write
        Called once with the open temporary file (mode ``"wb"``). Anything it raises
        propagates, after the temporary file is removed and ``path`` left untouched, so a
        writer can also refuse its own bytes (a download whose checksum does not match).
    suffix
        The temporary file's suffix (``np.savez`` wants ``.npz``).

    Returns
    -------
    Path
        ``path``, as a :class:`~pathlib.Path`. The file gets the mode a plain ``open`` would
        give (``mkstemp``'s 0600 would hide a picture or a model from other users), and its
        bytes are on disk (``fsync``) before the rename. A temporary file left by a writer
        that was killed outright (SIGKILL, power loss) carries that writer's pid in its name,
        and the next write of ``path`` removes it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "hello.txt", lambda f: f.write(b"hello")).read_text()
    'hello'
    >>> def broken(f):
    ...     f.write(b"half")
    ...     raise OSError("disk full")
    >>> atomic_write(folder / "hello.txt", broken)
    Traceback (most recent call last):
    OSError: disk full
    >>> (folder / "hello.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hello', ['hello.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path, suffix):
        stale.unlink(missing_ok=True)
    mode = file_mode(path)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
