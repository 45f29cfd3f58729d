"""The GPU check on a lent device machine, in the fewest calls: what it needs, cut into parts that
fit what one call carries, sent over consecutive calls while the machine is warm, put back together
there, installed, and checked (``benchmarks/gpu_check.py``).

Here, before the calls (the device README's limits: 64 MiB travel per call, tree included):

    python benchmarks/device_parts.py prepare      # wheels and the model folder, cut into parts under .device/
    python benchmarks/device_parts.py hide         # the model folder (about 61 MB) leaves the tree that travels

``prepare`` prints the calls, also written to ``.device/plan.json``: each carries parts (at most
``--part-mib`` MiB) and copies them to ``/tmp/ccl-parts`` on the machine; the last also runs

    python3 benchmarks/device_parts.py check --parts /tmp/ccl-parts

there, which puts every file back together (each checked against its SHA-256), installs the
wheels with ``pip --no-deps --target /tmp/ccl/site``, puts the model folder back, preloads the
CUDA libraries and runs ``benchmarks/gpu_check.py`` into ``$OUT``. Afterwards, here:

    python benchmarks/device_parts.py restore      # the model folder back in place (git checkout does too)

The wheels: ``onnxruntime-gpu`` (the CUDA 13 build; the machine's own image has PyTorch's CUDA 13
libraries, which onnxruntime preloads) and ``qdrant-edge-py`` (the embedded store, for the ingest),
downloaded for the machine's Python 3.12 into ``.device/wheels-py3.12`` (ignored by git). A
rehearsal here: ``prepare --python 3.11``, copy each call's carried parts into /tmp/ccl-parts,
then ``check``; without a GPU it ends saying CUDA is not active, after every other step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".device"
MODEL = ROOT / "ccl_embed" / "models" / "default"
HIDDEN = WORK / "hidden-default-model"
WHEELS = ("onnxruntime-gpu==1.31.1", "qdrant-edge-py==0.9.0")
CALL_MIB = 64
"""What one call carries, working tree included (the device README)."""
MANIFEST = "MANIFEST.json"
MODEL_TAR = "model-default.tar"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split(files: list[Path], parts: Path, part_bytes: int) -> dict[str, Any]:
    """Cut each file into parts of at most ``part_bytes`` under ``parts``; the manifest of what
    :func:`assemble` needs (each file's size, SHA-256 and parts, in order), also written there."""
    if part_bytes < 1:
        raise ValueError(f"part size {part_bytes}: give a positive number of bytes")
    parts.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"files": {}}
    for path in files:
        names = []
        with path.open("rb") as f:
            for i, chunk in enumerate(iter(lambda: f.read(part_bytes), b"")):
                name = f"{path.name}.part{i:03d}"
                (parts / name).write_bytes(chunk)
                names.append(name)
        manifest["files"][path.name] = {"size": path.stat().st_size, "sha256": sha256(path), "parts": names}
    (parts / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def assemble(parts: Path, into: Path) -> list[Path]:
    """Put every file of ``parts``' manifest back together under ``into``, each checked.

    Raises:
        SystemExit: Naming a missing part, or a file whose size or SHA-256 is not the manifest's.
    """
    manifest = json.loads((parts / MANIFEST).read_text())
    into.mkdir(parents=True, exist_ok=True)
    out = []
    for name, entry in manifest["files"].items():
        missing = [p for p in entry["parts"] if not (parts / p).is_file()]
        if missing:
            raise SystemExit(f"{name}: parts {', '.join(missing)} did not arrive in {parts}; send them again")
        target = into / name
        with target.open("wb") as f:
            for p in entry["parts"]:
                f.write((parts / p).read_bytes())
        if target.stat().st_size != entry["size"] or sha256(target) != entry["sha256"]:
            raise SystemExit(f"{name}: put back together it is not the file that was cut (size or SHA-256); "
                             "send its parts again")
        out.append(target)
    return out


def plan(parts: Path, part_bytes: int, tree_bytes: int) -> list[dict[str, Any]]:
    """The device calls: parts grouped so that each call's tree and parts stay under the limit;
    each copies its parts to /tmp/ccl-parts; the last also runs the check."""
    room = CALL_MIB * (1 << 20) - tree_bytes - (1 << 20)  # a MiB to spare
    if part_bytes > room:
        raise SystemExit(f"parts of {part_bytes >> 20} MiB do not fit beside a {tree_bytes / 2**20:.1f} MiB tree; "
                         "hide the model folder (hide) or cut smaller parts (--part-mib)")
    files = sorted((p for p in parts.iterdir() if p.name != MANIFEST), key=lambda p: (-p.stat().st_size, p.name))
    calls: list[list[Path]] = []
    for f in files:  # first fit, largest first: the fewest calls
        fits = next((c for c in calls if sum(p.stat().st_size for p in c) + f.stat().st_size <= room), None)
        if fits is None:
            calls.append(fits := [])
        fits.append(f)
    if not calls:
        calls.append([])
    calls[-1].append(parts / MANIFEST)
    copy = "mkdir -p /tmp/ccl-parts && cp .device/parts/* /tmp/ccl-parts/"
    out = []
    for i, group in enumerate(calls):
        last = i == len(calls) - 1
        command = copy + (" && PYTHONUNBUFFERED=1 python3 benchmarks/device_parts.py check --parts /tmp/ccl-parts"
                          if last else " && ls /tmp/ccl-parts | wc -l")
        out.append({"carry": [str(p.relative_to(ROOT)) for p in group], "command": command,
                    "mib": round(sum(p.stat().st_size for p in group) / 2**20, 1)})
    return out


def tree_size() -> int:
    """Bytes of what a call sends without carry: tracked files present, untracked ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / os.fsdecode(p)).stat().st_size for p in listed if p and (ROOT / os.fsdecode(p)).is_file())


def prepare(args: argparse.Namespace) -> None:
    wheels = WORK / f"wheels-py{args.python}"
    wheels.mkdir(parents=True, exist_ok=True)
    for requirement in args.wheel:
        name = requirement.split("==")[0].replace("-", "_")
        if not list(wheels.glob(f"{name}-*.whl")):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            "--python-version", args.python, "--implementation", "cp",
                            *(f"--platform={p}" for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                                                          "manylinux_2_17_x86_64", "manylinux2014_x86_64")),
                            "-d", str(wheels), requirement], check=True)
    model = HIDDEN if HIDDEN.is_dir() else MODEL
    tar = WORK / MODEL_TAR
    with tarfile.open(tar, "w") as t:
        t.add(model, arcname="default")
    parts = WORK / "parts"
    shutil.rmtree(parts, ignore_errors=True)
    split(sorted(wheels.glob("*.whl")) + [tar], parts, args.part_mib << 20)
    tree = tree_size() - (sum(f.stat().st_size for f in MODEL.rglob("*") if f.is_file()) if MODEL.is_dir() else 0)
    calls = plan(parts, args.part_mib << 20, tree)
    (WORK / "plan.json").write_text(json.dumps(calls, indent=2) + "\n")
    print(f"{len(calls)} device calls (tree {tree / 2**20:.1f} MiB without the model folder), .device/plan.json:")
    for i, call in enumerate(calls, 1):
        print(f"  {i}. carry {call['carry']} ({call['mib']} MiB): {call['command']}")
    if MODEL.is_dir():
        print("then, before the first call: python benchmarks/device_parts.py hide")


def check(args: argparse.Namespace) -> None:
    """On the device: put the parts together, install, restore the model folder, run the GPU check."""
    into = Path(args.into)
    files = assemble(Path(args.parts), into)
    site = into / "site"
    wheels = [str(f) for f in files if f.suffix == ".whl"]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--upgrade", "--target", str(site), *wheels], check=True)
    if not MODEL.is_dir():
        with tarfile.open(into / MODEL_TAR) as t:
            t.extractall(MODEL.parent, filter="data")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    sys.exit(subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], env=env, cwd=ROOT).returncode)


def hide(_: argparse.Namespace) -> None:
    if not MODEL.is_dir():
        raise SystemExit(f"{MODEL} is not there (hidden already? {HIDDEN})")
    HIDDEN.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(MODEL), str(HIDDEN))
    print(f"moved {MODEL.relative_to(ROOT)} to {HIDDEN.relative_to(ROOT)}; put it back with: restore")


def restore(_: argparse.Namespace) -> None:
    if MODEL.is_dir():
        raise SystemExit(f"{MODEL} is in place already")
    shutil.move(str(HIDDEN), str(MODEL))
    print(f"restored {MODEL.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="download the wheels, cut everything into parts, print the calls")
    p.add_argument("--wheel", nargs="+", default=list(WHEELS))
    p.add_argument("--part-mib", type=int, default=58, help="at most 60; 58 leaves room for a 5 MiB tree")
    p.add_argument("--python", default="3.12", help="the device's Python (3.12); this machine's to rehearse here")
    p.set_defaults(run=prepare)
    c = sub.add_parser("check", help="on the device: put together, install, run benchmarks/gpu_check.py")
    c.add_argument("--parts", default="/tmp/ccl-parts")
    c.add_argument("--into", default="/tmp/ccl")
    c.set_defaults(run=check)
    sub.add_parser("hide", help="move the model folder out of the tree that travels").set_defaults(run=hide)
    sub.add_parser("restore", help="move it back").set_defaults(run=restore)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
