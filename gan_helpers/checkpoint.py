"""Checkpoints that survive a kill at any moment: the state format, an atomic save, a checked restore,
and the recovery of what an interrupted save leaves behind.

A checkpoint is a folder with ``state.npz`` (every variable, by group: ``generator/0``, ``d_opt/3``…)
and ``meta.json`` (the epoch and the run's settings), plus side files. It is written to
``<folder>.tmp``, meta.json last as the mark of a complete write, then swapped in.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

import numpy as np
from keras import ops

from . import faults

STATE_FILES = ("state.npz", "meta.json")
CHECKPOINT_FORMAT = 1    # meta.json's "format"; a checkpoint without one is format 1


def save(groups: dict[str, list], directory: str | os.PathLike, epoch: int, meta: dict | None = None,
         extras: dict[str, object] | None = None) -> Path:
    """Write the variables of ``groups`` (name → variables) and the epoch to ``directory``, atomically;
    ``extras`` are side files (JSON, or ``.npy`` for arrays), such as the loss history."""
    directory = Path(directory)
    tmp, old = _sibling(directory, ".tmp"), _sibling(directory, ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays = {f"{group}/{i}": ops.convert_to_numpy(v)
              for group, variables in groups.items() for i, v in enumerate(variables)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    raw = buffer.getvalue()
    with open(tmp / "state.npz", "wb") as f:      # in two halves: the test hook can stop in between
        f.write(raw[: len(raw) // 2])
        f.flush()
        faults.pause_here("write", directory, epoch)
        f.write(raw[len(raw) // 2:])
        f.flush()
        os.fsync(f.fileno())
    for name, obj in (extras or {}).items():
        if isinstance(obj, np.ndarray):
            np.save(tmp / f"{name}.npy", obj)
        else:
            _write_synced(tmp / f"{name}.json", json.dumps(obj))
    _write_synced(tmp / "meta.json", json.dumps(
        {"epoch": int(epoch), "format": CHECKPOINT_FORMAT, **(meta or {})}, indent=2))
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    faults.pause_here("swap", directory, epoch)
    tmp.rename(directory)
    faults.pause_here("clean", directory, epoch)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def restore(groups: dict[str, list], directory: str | os.PathLike) -> dict:
    """Assign a checkpoint's values to the variables of ``groups``; returns its meta. A damaged,
    foreign or mismatched checkpoint raises ``ValueError`` and assigns nothing."""
    directory = Path(directory)
    missing = [f for f in STATE_FILES if not (directory / f).exists()]
    if missing:
        raise FileNotFoundError(f"{directory} is not a complete checkpoint (missing {', '.join(missing)})")
    meta = read_meta(directory)
    try:
        with np.load(directory / "state.npz") as npz:
            state = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"{directory / 'state.npz'} is damaged ({type(exc).__name__}: {str(exc)[:80]}); "
                         "it cannot be resumed. Start again without it (CLI: --restart).") from None
    for group, variables in groups.items():
        saved = [k for k in state if k.startswith(group + "/")]
        if len(saved) != len(variables):
            raise ValueError(f"{directory}: the checkpoint's {group} has {len(saved)} variables, this "
                             f"GAN's has {len(variables)}; was it made with another model size or optimizer?")
        for i, var in enumerate(variables):
            value = state[f"{group}/{i}"]
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"{directory}: {group} variable {var.path} has shape {value.shape} in the "
                                 f"checkpoint, {var.shape} here; was it made with another model size?")
    for group, variables in groups.items():  # all checked: now assign
        for i, var in enumerate(variables):
            var.assign(state[f"{group}/{i}"])
    return meta


def read_meta(directory: str | os.PathLike) -> dict:
    """A checkpoint's meta.json, refusing one that is unreadable or from another format version."""
    path = Path(directory) / "meta.json"
    try:
        meta = json.loads(path.read_text())
        epoch = int(meta["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is unreadable ({type(exc).__name__}: {str(exc)[:80]}); the "
                         "checkpoint cannot be resumed.") from None
    fmt = meta.get("format", 1)
    if fmt != CHECKPOINT_FORMAT:
        raise ValueError(f"{directory} was written by another version of gan_helpers (checkpoint format "
                         f"{fmt!r}; this version reads format {CHECKPOINT_FORMAT}).")
    if epoch < 0:
        raise ValueError(f"{path} gives epoch {epoch}; it must be ≥ 0.")
    return meta


def recover(directory: str | os.PathLike) -> str | None:
    """Repair what a kill during ``save`` can leave, before a run resumes from ``directory``.

    A complete ``.tmp`` is newer than anything else and is swapped in; an incomplete one is
    deleted. With no checkpoint in place, a complete ``.old`` is put back; with one, ``.old`` is a
    stale copy and is deleted. Returns one line saying what was done, or None when nothing was."""
    directory = Path(directory)
    tmp, old = _sibling(directory, ".tmp"), _sibling(directory, ".old")
    faults.paused_mark(directory).unlink(missing_ok=True)
    done = []
    if tmp.exists():
        if _complete(tmp):
            shutil.rmtree(old, ignore_errors=True)
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
            done.append(f"used the complete {tmp.name} that an interrupted save left")
        else:
            shutil.rmtree(tmp)
            done.append(f"deleted the half-written {tmp.name}")
    if old.exists():
        if not directory.exists() and _complete(old):
            old.rename(directory)
            done.append(f"restored {old.name}, the last complete checkpoint")
        else:
            shutil.rmtree(old)
            done.append(f"deleted the superseded {old.name}")
    return f"Checkpoint {directory}: " + "; ".join(done) + "." if done else None


def _sibling(directory: Path, suffix: str) -> Path:
    return directory.with_name(directory.name + suffix)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _complete(directory: Path) -> bool:
    """True when ``directory`` holds a whole checkpoint: meta.json (written last) readable and
    state.npz an intact zip archive."""
    try:
        read_meta(directory)
        with zipfile.ZipFile(directory / "state.npz") as z:
            return z.testzip() is None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error):
        return False


class Resumable:
    """``save_state`` and ``load_state`` for a model that lists its variables in ``state_groups()``
    (``training.GAN`` does), so that a killed run resumes where it stopped."""

    def save_state(self, directory: str | os.PathLike, epoch: int, meta: dict | None = None,
                   extras: dict | None = None) -> Path:
        """Checkpoint every variable a resumed run needs, atomically (``save``)."""
        return save(self.state_groups(), directory, epoch, meta, extras)

    def load_state(self, directory: str | os.PathLike) -> dict:
        """Restore a checkpoint of ``save_state``; returns its meta (``meta["epoch"]``)."""
        return restore(self.state_groups(), directory)
