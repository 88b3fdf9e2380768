"""Callbacks for :func:`flowgraph.train` beyond early stopping: a training log that survives
the run.

``CSVLogger(path)`` writes one row per epoch as training goes (the figures of
:meth:`History.records`: epoch, losses, errors, alpha_t, seconds), flushed and synced after
each row, so a run that is killed still leaves its learning curve. The file reads in pandas
(``pd.read_csv``), a spreadsheet, or TensorBoard's CSV import.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from .callbacks import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Append each epoch's record of the History to a CSV file (a header first).

    ``append=True`` keeps the rows already in the file; otherwise the file starts anew at
    ``on_train_begin``, with the rows of ``history`` (a resumed run's epochs so far) first.
    NaN (no validation set) is written as an empty cell.
    """

    def __init__(self, path: str | os.PathLike, *, append: bool = False, history: Any = None):
        self.path = Path(path)
        self.append = append
        self.history = history  # a resumed run's epochs so far: written first, in place of
        self._columns: list[str] | None = None  # whatever the file held

    def on_train_begin(self, model: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._columns = None
        if self.history is not None:
            self.path.write_text("", encoding="utf-8")
            for row in self.history.records():
                self._write(row)
            return
        if self.append and self.path.is_file() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as f:
                self._columns = next(csv.reader(f), None)
        elif not self.append or not self.path.is_file():
            self.path.write_text("", encoding="utf-8")

    def on_epoch_end(self, model: Any, history: Any) -> bool:
        records = history.records()
        if not records:
            return False
        self._write(records[-1])
        return False

    def _write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if self._columns is None:
                self._columns = list(row)
                writer.writerow(self._columns)
            writer.writerow([_cell(row.get(c)) for c in self._columns])
            f.flush()
            os.fsync(f.fileno())


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)  # every digit: the log reads back the same numbers
    return v
