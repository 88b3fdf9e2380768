"""The search checkpoint: one JSON line per finished trial after a header naming the search
(its plan and the fingerprint of its data), appended as trials finish, so that a stopped
search resumes where it was; a file that is not one is refused and left untouched."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._json import loads_bounded
from .space import SearchError, normalize_value
from .trial import Data

# one planned trial: (index, configuration, seed)
Plan = list[tuple[int, dict[str, Any], int]]


__all__ = ["Checkpoint", "fingerprint", "FORMAT", "to_json", "from_json", "impossible_error"]


def fingerprint(data: Data) -> str:
    """SHA-256 of the data's arrays: a checkpoint resumes only the search it was written by."""
    h = hashlib.sha256()
    for X, y in data:
        for a in (X, y):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


# -- the checkpoint -----------------------------------------------------------------------------

FORMAT = "flowgraph-search-checkpoint"


def to_json(record: dict[str, Any]) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return json.dumps(clean(record), allow_nan=False)


def from_json(line: dict[str, Any]) -> dict[str, Any]:
    record = dict(line)
    record["config"] = {k: normalize_value(k, v) for k, v in line["config"].items()}
    for k in ("valid_error", "train_error"):
        record[k] = math.nan if record[k] is None else float(record[k])
    return record


def impossible_error(record: dict[str, Any]) -> str | None:
    """Why a trial record's error rates cannot be (an error rate lies in [0, 1]; NaN only for
    a failed trial), or None: an edited checkpoint must not choose the best trial."""
    for k in ("valid_error", "train_error"):
        v = record[k]
        if (math.isnan(v) and record.get("status") == "ok") or not (math.isnan(v) or 0 <= v <= 1):
            return f"{k} = {v} is not an error rate in [0, 1] of a finished trial"
    return None


class Checkpoint:
    """A JSON-lines file: a header naming the data, then one finished trial per line, each
    written with one call, flushed and fsync'ed.

    Nothing is written into an existing file before it is verified to be a checkpoint of this
    search: a mistyped path (a space file, a model) is refused untouched. An empty file, or one
    holding only the beginning of a header (a crash while creating it), is a fresh start. A
    half-written last trial (a crash mid-write) is dropped, and new lines start clean."""

    def __init__(self, path: str | os.PathLike, plan: Plan, fingerprint: str):
        self.path = Path(path)
        self.done: dict[int, dict[str, Any]] = {}
        header = {"format": FORMAT, "version": 1, "data_sha256": fingerprint}
        planned = {i: (config, seed) for i, config, seed in plan}
        for i, config, _ in plan:
            try:
                to_json({"config": config})
            except (TypeError, ValueError):
                raise SearchError(
                    f"trial {i}: a checkpoint stores configurations as JSON, and {config} is "
                    "not (give names and numbers, not objects)"
                ) from None
        if self.path.is_dir():
            raise SearchError(f"checkpoint {self.path} is a folder; give a file (e.g. s.jsonl)")
        if self.path.exists() and not self._is_fresh():
            self._read(planned, header)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line(json.dumps(header), mode="w")

    def _is_fresh(self) -> bool:
        """True for an empty file or one cut short while its header was being written."""
        size = self.path.stat().st_size
        if size == 0:
            return True
        if size > 4096:
            return False
        raw = self.path.read_bytes()
        start = b'{"format": "' + FORMAT.encode() + b'"'
        return b"\n" not in raw and (start.startswith(raw) or raw.startswith(start))

    def _read(self, planned: dict[int, tuple[dict[str, Any], int]], header: dict) -> None:
        with open(self.path, "rb") as f:  # the first line decides, before anything else is read
            first_raw = f.readline(65536)
        try:
            first = loads_bounded(first_raw) if first_raw.endswith(b"\n") else None
        except ValueError:  # not UTF-8, not JSON, nested too deep
            first = None
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            raise SearchError(
                f"{self.path} is not a flowgraph search checkpoint (left untouched); "
                "give a new path, or the .jsonl file an earlier search wrote"
            )
        if first.get("data_sha256") != header["data_sha256"]:
            raise SearchError(
                f"checkpoint {self.path} was written by a search on other data; "
                "use another checkpoint path"
            )
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        try:
            lines = raw[:end].decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise SearchError(f"checkpoint {self.path}: not UTF-8 text past its header") from None
        records = []
        for n, text in enumerate(lines[1:], start=2):
            try:
                record = from_json(loads_bounded(text))
                i = int(record["trial"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                raise SearchError(f"checkpoint {self.path}, line {n}: not a trial record") from None
            impossible = impossible_error(record)
            if impossible:
                raise SearchError(f"checkpoint {self.path}, line {n}: {impossible}")
            if i not in planned or planned[i] != (record["config"], record["seed"]):
                want = planned.get(i)
                raise SearchError(
                    f"checkpoint {self.path}, line {n}: trial {i} was {record['config']} with "
                    f"seed {record['seed']}, but this search's trial {i} is "
                    + (f"{want[0]} with seed {want[1]}" if want else "not planned")
                    + "; a checkpoint belongs to one search: use another path"
                )
            records.append((i, record))
        if end < len(raw):  # verified: now drop the line a crash cut short, before appending
            with open(self.path, "r+b") as f:
                f.truncate(end)
        for i, record in records:
            self.done.setdefault(i, record)

    def _write_line(self, text: str, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append(self, record: dict[str, Any]) -> None:
        self._write_line(to_json(record))
