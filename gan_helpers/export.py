"""A trained generator as one ``.keras`` file, with a provenance record beside it (``generator.json``:
recipe, data, steps) so that a reader can check what made the file before evaluating it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from . import layers  # noqa: F401  (registers the package's layers, e.g. ClusterCode, for loading)


class ProvenanceError(ValueError):
    """A saved generator was made by other settings or data than the caller expects."""


def provenance_path(path: str | os.PathLike) -> Path:
    """Where ``save_generator`` records what made ``path``: ``generator.keras`` → ``generator.json``."""
    return Path(path).with_suffix(".json")


def save_generator(generator: keras.Model, path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Save ``generator`` (usually ``gan.sampler``, the calibrated average) alone as a ``.keras`` file,
    and ``provenance`` (JSON values) beside it; without one, a stale record there is removed."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path} must end in .keras (Keras 3's native format)")
    path.parent.mkdir(parents=True, exist_ok=True)
    generator.save(path)
    side = provenance_path(path)
    if provenance is None:
        side.unlink(missing_ok=True)      # never leave another generator's record beside this one
    else:
        side.write_text(json.dumps(provenance, indent=2, default=str))
    return path


def load_generator(path: str | os.PathLike, expect: dict | None = None) -> keras.Model:
    """Load a generator saved with ``save_generator``. With ``expect`` (for example
    ``{"recipe": recipe.record(), "data_source": "bundled"}``) its provenance record must hold those
    values, or ``ProvenanceError`` says which differ: a stale file is refused, not silently evaluated."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no generator at {path}; train one with `make train` first")
    if expect:
        side = provenance_path(path)
        if not side.exists():
            raise ProvenanceError(f"{path} has no provenance record ({side.name}), so what trained it "
                                  "is unknown")
        try:
            record = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ProvenanceError(f"{side} is not readable JSON ({err})") from None
        differ = [k for k, v in expect.items() if record.get(k) != v]
        if differ:
            raise ProvenanceError(f"{path} was made with other settings: " + "; ".join(
                f"{k} is {record.get(k)!r}, expected {expect[k]!r}" for k in differ))
    return keras.models.load_model(path)
