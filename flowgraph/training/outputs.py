"""The files of a finished run, written so that a reader never takes half of them for a run.

Each file is written atomically (a temporary file, then a rename); ``manifest.json`` comes
last, with every file's size and SHA-256: a folder holds a whole run exactly when its manifest
is there and agrees with its files. ``resume.npz`` stays beside them until then, so a run
stopped while writing them can be completed (``flowgraph train --resume``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_write
from .resume_file import RESUME
from .run import MANIFEST, Run

__all__ = ["errors_of", "metrics_of", "write_outputs", "write_manifest", "stop_note"]

# a picture of the trained run: (run, folder) -> the file name written, or None
Picture = Callable[[Run, Path], "str | None"]


def errors_of(run: Run) -> dict[str, float]:
    """The classification error of the trained model on each raw part."""
    return {k: run.model.error(*run.parts[k]) for k in ("train", "valid", "test")}


def stop_note(run: Run) -> str:
    """Why the training ended, in words."""
    h = run.history
    if run.diverged is not None:
        return "diverged"
    if h.stopped_early:
        return f"stopped early: no better validation error in {run.config['patience']} epochs"
    return "interrupted" if h.interrupted else "epoch limit"


def metrics_of(run: Run, errors: dict[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(metrics.json's contents, the model file's metadata)``."""
    h = run.history
    metrics = {
        **{f"{k}_accuracy": 1 - v for k, v in errors.items()},
        **{f"{k}_error": v for k, v in errors.items()},
        "epochs": len(h), "best_epoch": h.best_epoch, "seconds": run.seconds,
        "stopped_early": h.stopped_early, "interrupted": h.interrupted,
        "diverged": run.diverged is not None, "config": run.config, "dataset": run.info,
        "history": h.to_dict(),
    }  # fmt: skip
    metadata = {
        "dataset": run.config["dataset"], "data_dir": run.config["data_dir"], "split": run.split,
        "preprocessing": run.preprocessing.to_dict(),  # also the model's own, saved with it
        "n_classes": run.info["n_classes"],
        **({"classes": run.info["classes"]} if run.info.get("classes") else {}),
        "metrics": {k: metrics[k] for k in metrics if k not in ("history", "dataset")},
    }  # fmt: skip
    return metrics, metadata


def write_outputs(run: Run, errors: dict[str, float],
                  pictures: Sequence[Picture] = ()) -> list[str]:  # fmt: skip
    """model.npz, metrics.json, curves.png and the ``pictures``, then the manifest; the names
    written, in order. A picture that returns None was skipped (it says why itself)."""
    out, name = run.out, run.info["name"]
    metrics, metadata = metrics_of(run, errors)
    out.mkdir(parents=True, exist_ok=True)
    run.model.save(out / "model.npz", metadata=metadata)
    text = json.dumps(metrics, indent=2, allow_nan=True)
    atomic_write(out / "metrics.json", lambda f: f.write(text.encode() + b"\n"))
    written = ["model.npz", "metrics.json", "metrics.csv"]
    figure = run.history.plot(title=f"{name}: error per epoch")
    atomic_write(out / "curves.png", lambda f: figure.savefig(f, dpi=120, format="png"),
                 suffix=".png")  # fmt: skip
    written.append("curves.png")
    for picture in pictures:
        drawn = picture(run, out)
        if drawn:
            written.append(drawn)
    if (out / RESUME).is_file():
        written.append(RESUME)
    write_manifest(out, written, interrupted=run.history.interrupted, epochs=len(run.history),
                   diverged=run.diverged is not None)  # fmt: skip
    return [*written, MANIFEST]


def write_manifest(out: Path, names: list[str], **facts: Any) -> None:
    """``manifest.json``, written last: the run's files with their SHA-256, so that a reader
    never takes a mix of two runs or a half-written picture for a finished run."""
    files = {}
    for name in names:
        data = (out / name).read_bytes()
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    doc = {"format": "flowgraph-run", "version": 1, "files": files, **facts}
    text = json.dumps(doc, indent=2)
    atomic_write(out / MANIFEST, lambda f: f.write(text.encode() + b"\n"))
