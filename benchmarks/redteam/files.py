"""The crafted-files families: model files given to fg.load_model in a worker process,
resume.npz files given to flowgraph train --resume."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .harness import Outcome, attempt, cli_case, env, limit_memory


def npy(descr: str, shape: tuple, payload: bytes = b"", fortran: bool = False) -> bytes:
    """The bytes of an .npy file whose header says ``descr`` and ``shape``, whatever follows."""
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def array_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_zip(path: Path, content: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in content.items():
            z.writestr(name, data)
    return path


def zip_bomb(path: Path, name: str, gib: float = 1.0) -> Path:
    """A member of ``gib`` GiB of zeros (an .npy of float64), deflated to about a MiB."""
    n = int(gib * 2**30) // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as f:
            f.write(npy("<f8", (n,)))
            zeros = bytes(1 << 24)
            for _ in range(n * 8 // len(zeros)):
                f.write(zeros)
    return path


def crafted_models(base: Path, folder: Path) -> dict[str, Path]:
    """Model files made from ``base`` by one hostile change each."""
    folder.mkdir(parents=True, exist_ok=True)
    data, parts = base.read_bytes(), members(base)
    rng = np.random.default_rng(21)
    out: dict[str, Path] = {}

    def keep(name: str, content: bytes | dict[str, bytes]) -> None:
        path = folder / f"{len(out):03d}.npz"
        if isinstance(content, dict):
            write_zip(path, content)
        else:
            path.write_bytes(content)
        out[name] = path

    for k in range(16):
        keep(f"truncated at {k}/16", data[: len(data) * k // 16])
    for _ in range(16):
        flipped = bytearray(data)
        i = int(rng.integers(len(data)))
        flipped[i] ^= 0xFF
        keep(f"byte {i} flipped", bytes(flipped))
    params = [n for n in parts if n.startswith("param/")]
    meta_name = next(n for n in parts if n.startswith("__meta__"))
    for name in parts:
        keep(f"without {name}", {k: v for k, v in parts.items() if k != name})
    w = params[0]
    for name, payload in {
        "shape (1e10,)": npy("<f4", (10**10,)),
        "shape (-1,)": npy("<f4", (-1,)),
        "shape 2^62 x 4": npy("<f4", (2**62, 4)),
        "object dtype (a pickle)": array_bytes(np.array([{"a": 1}], dtype=object)),
        "unicode dtype": array_bytes(np.array(["a", "b"])),
        "complex": array_bytes(np.zeros((4, 2), complex)),
        "another shape": array_bytes(np.zeros((3, 3), np.float32)),
        "NaN values": array_bytes(np.full((4, 2), np.nan, np.float32)),
        "0-d": array_bytes(np.float32(1)),
        "a header only": npy("<f4", (4, 2)),
        "a bad header": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4 \n",
        "header length 65535": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 100,
        "version 3": b"\x93NUMPY\x03\x00" + npy("<f4", (4, 2))[8:],
    }.items():
        keep(f"{w} {name}", {**parts, w: payload})
    for name, text in {
        "not JSON": "{nope",
        "a list": "[1, 2]",
        "deep": "[" * 100_000 + "]" * 100_000,
        "a 5,000-digit int": '{"format": 1' + "0" * 5000 + "}",
        "empty": "",
        "another format": '{"format": "something-else", "version": 2}',
    }.items():
        keep(f"__meta__ {name}", {**parts, meta_name: array_bytes(np.array(text))})
    keep("a member named ../evil.npy", {**parts, "../evil.npy": parts[w]})
    keep("an extra member", {**parts, "param/evil.npy": parts[w]})
    keep("a member twice", {**parts})  # rewritten below with a duplicate name
    with zipfile.ZipFile(out["a member twice"], "a") as z, _quiet_duplicates():
        z.writestr(w, array_bytes(np.zeros((3, 3), np.float32)))
    out["1 GiB of zeros deflated"] = zip_bomb(folder / "bomb.npz", w)
    return out


class _quiet_duplicates:
    def __enter__(self):
        import warnings

        self.catch = warnings.catch_warnings()
        self.catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.catch.__exit__(*exc)


LOADER = """
import json, sys
import flowgraph as fg
for path in sys.argv[1:]:
    print(json.dumps({"begin": path}), flush=True)
    try:
        model = fg.load_model(path)
        outcome = {"path": path, "loaded": True}
    except fg.FlowgraphError as e:
        outcome = {"path": path, "refused": type(e).__name__, "message": str(e)[:120]}
    except Exception as e:
        outcome = {"path": path, "error": type(e).__name__, "message": str(e)[:120]}
    print(json.dumps(outcome), flush=True)
"""


def load_in_workers(paths: list[Path], timeout: float = 120) -> dict[str, str | None]:
    """Each path loaded by ``fg.load_model`` in a worker process (3 GiB of address space);
    a worker that dies fails the file it was on and a new one takes the rest."""
    results: dict[str, str | None] = {}
    todo = [str(p) for p in paths]
    while todo:
        try:
            proc = subprocess.run(
                [sys.executable, "-c", LOADER, *todo],
                env=env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=limit_memory(),
            )
            stdout, died = proc.stdout, f"the loader died (exit {proc.returncode})"
        except subprocess.TimeoutExpired as e:
            stdout, died = (e.stdout or b"").decode(), f"no answer within {timeout:g} s"
        current = None
        for line in stdout.splitlines():
            record = json.loads(line)
            if "begin" in record:
                current = record["begin"]
            else:
                current = None
                error = record.get("error")
                results[record["path"]] = f"{error}: {record['message']}" if error else None
        if current is not None:
            results[current] = died
        remaining = [p for p in todo if p not in results]
        if len(remaining) == len(todo):  # no progress: the worker cannot start
            results.update({p: died for p in remaining})
            break
        todo = remaining
    return results


def run_models(work: Path, limit: int | None) -> list[Outcome]:
    crafted = crafted_models(work / "run" / "model.npz", work / "models")
    names = list(crafted)[:limit]
    results = load_in_workers([crafted[n] for n in names])
    return [Outcome("model files", n, results.get(str(crafted[n]), "not tried")) for n in names]


def resume_variants(other: Path) -> dict[str, Callable[[dict, dict], None]]:
    """Hostile changes to a resume point: each edits (meta, arrays) in place."""

    def args(**kw):
        return lambda meta, arrays: meta["args"].update(kw)

    def state(**kw):
        return lambda meta, arrays: meta["state"].update(kw)

    def array(name, value):
        return lambda meta, arrays: arrays.__setitem__(name, value)

    def drop(name):
        return lambda meta, arrays: arrays.pop(name, None)

    return {
        "hidden 'abc'": args(hidden="abc"),
        "hidden [-1]": args(hidden=[-1]),
        "hidden [10^9]": args(hidden=[10**9]),
        "lr 'fast'": args(lr="fast"),
        "lr -1": args(lr=-1),
        "batch_size 0": args(batch_size=0),
        "n_samples 10^10": args(n_samples=10**10),
        "dtype 'object'": args(dtype="object"),
        "activation 'nope'": args(activation="nope"),
        "optimizer 'nope'": args(optimizer="nope"),
        "another dataset": args(dataset="circles"),
        "'resume' elsewhere": args(resume=str(other / "via-resume")),
        "'out' elsewhere": args(out=str(other / "via-out")),
        "an unknown option": args(frobnicate=1),
        "args a list": lambda meta, arrays: meta.__setitem__("args", [1, 2]),
        "args missing": lambda meta, arrays: meta.pop("args"),
        "epoch 'two'": state(epoch="two"),
        "epoch -5": state(epoch=-5),
        "epoch 10^30": state(epoch=10**30),
        "state a list": lambda meta, arrays: meta.__setitem__("state", []),
        "rng garbage": state(rng={"bit_generator": "Nope", "state": 1}),
        "history garbage": state(history={"epoch": "x"}),
        "optimizer state missing": lambda meta, arrays: meta.pop("optimizer"),
        "buffers too many": lambda meta, arrays: meta["buffers"].update(velocity=[True] * 9),
        "buffers a string": lambda meta, arrays: meta.__setitem__("buffers", "velocity"),
        "format other": lambda meta, arrays: meta.__setitem__("format", "other"),
        "version 3 (from the future)": lambda meta, arrays: meta.__setitem__("version", 3),
        "version '2'": lambda meta, arrays: meta.__setitem__("version", "2"),
        "version 0": lambda meta, arrays: meta.__setitem__("version", 0),
        "version true": lambda meta, arrays: meta.__setitem__("version", True),
        "sha256 of other contents": lambda meta, arrays: meta.__setitem__("sha256", "0" * 64),
        "sha256 missing": lambda meta, arrays: meta.pop("sha256", None),
        "sha256 a number": lambda meta, arrays: meta.__setitem__("sha256", 5),
        "param W1 missing": drop("param/W1"),
        "param W1 another shape": array("param/W1", np.zeros((7, 7), np.float32)),
        "param W1 NaN": array("param/W1", np.full((4, 2), np.nan, np.float32)),
        "param W1 int": array("param/W1", np.zeros((4, 2), np.int64)),
        "param W1 strings": array("param/W1", np.array([["a", "b"]] * 4)),
        "an extra param": array("param/evil", np.zeros(3, np.float32)),
        "velocity 0 missing": drop("opt/velocity/0"),
        "velocity 0 another shape": array("opt/velocity/0", np.zeros(5, np.float32)),
    }


def unhashed(change: Callable[[dict, dict], None]) -> Callable[[dict, dict], None]:
    """The same change to a file of version 1, which has no hash to betray it: the fields'
    own checks must refuse it."""

    def edit(meta: dict, arrays: dict) -> None:
        meta["version"] = 1
        meta.pop("sha256", None)
        change(meta, arrays)

    return edit


def write_resume(path: Path, meta: dict | str, arrays: dict[str, np.ndarray]) -> None:
    text = meta if isinstance(meta, str) else json.dumps(meta)
    np.savez(path, __meta__=np.array(text), **arrays)


def crafted_resumes(run: Path, folder: Path) -> dict[str, tuple[Path, Path]]:
    """Run folders whose resume.npz is changed in one hostile way: name -> (folder, the folder
    of the stored options that point elsewhere, which must stay absent)."""
    with np.load(run / "resume.npz", allow_pickle=False) as f:
        meta0 = json.loads(str(f["__meta__"]))
        arrays0 = {k: f[k] for k in f.files if k != "__meta__"}
    out = {}
    variants = resume_variants(folder / "other")
    # a file of version 1 has no hash: an edit to another valid value (another dataset) is
    # undetectable there by design (such files still load); every other edit must be refused
    hashless = {
        f"v1 {k}": unhashed(f)
        for k, f in variants.items()
        if not k.startswith(("version", "sha")) and k != "another dataset"
    }
    for i, (name, change) in enumerate({**variants, **hashless}.items()):
        via = "via-resume" if "'resume'" in name else "via-out" if "'out'" in name else "none"
        d = folder / f"r{i:02d}"
        d.mkdir(parents=True, exist_ok=True)
        meta, arrays = json.loads(json.dumps(meta0)), dict(arrays0)
        change(meta, arrays)
        write_resume(d / "resume.npz", meta, arrays)
        out[name] = (d, folder / "other" / via)
    raw = (run / "resume.npz").read_bytes()
    files = {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "random bytes": os.urandom(2000),
        "a text": b"resume\n",
    }
    n = len(out)
    for name, data in files.items():
        d = folder / f"r{n:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "resume.npz").write_bytes(data)
        out[name] = (d, folder / "other" / "none")
        n += 1
    for name, meta in {
        "__meta__ not JSON": "{nope",
        "__meta__ deep": "[" * 100_000,
        "__meta__ 5,000-digit int": "1" + "0" * 5000,
    }.items():
        d = folder / f"r{n:02d}"
        d.mkdir(parents=True, exist_ok=True)
        write_resume(d / "resume.npz", meta, arrays0)
        out[name] = (d, folder / "other" / "none")
        n += 1
    d = folder / f"r{n:02d}"
    d.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(d / "resume.npz", "w") as z:
        z.writestr("__meta__.npy", array_bytes(np.array(json.dumps(meta0))))
        z.writestr("param/W1.npy", npy("<f4", (10**10,)))
    out["param W1 of shape (1e10,)"] = (d, folder / "other" / "none")
    return out


def run_resumes(work: Path, limit: int | None) -> list[Outcome]:
    crafted = crafted_resumes(work / "run", work / "resumes")
    cases = []
    for name, (folder, absent) in list(crafted.items())[:limit]:

        def elsewhere(absent=absent) -> str | None:
            return f"wrote into {absent}" if absent.exists() else None

        args = ["train", "--resume", str(folder), "--epochs", "4", "--no-progress"]
        cases.append(cli_case("resume files", name, args, work, elsewhere))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(attempt, cases))
