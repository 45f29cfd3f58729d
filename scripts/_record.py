"""The record every published figure carries: when, by which command, on which machine, with
which versions. Shared by the release build (this folder) and the benchmarks, which import it
from here, so that the release build imports nothing from benchmarks/."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def machine() -> dict[str, object]:
    """The machine a benchmark ran on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "python": sys.version.split()[0],
    }


def versions(*names: str) -> dict[str, str | None]:
    """Installed versions of some distributions (None where missing)."""
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = None
    return out


def command_line(program: str | None = None) -> str:
    """The command that started this run (``program``: how the program is started, default the
    script's path from the repository root, e.g. ``benchmarks/research/quality.py``)."""
    if program is None:
        script = Path(sys.argv[0]).resolve()
        root = RESULTS.parent.parent
        program = str(script.relative_to(root)) if script.is_relative_to(root) else script.name
    return "python " + " ".join([program, *sys.argv[1:]])


def write_result(name: str, payload: dict[str, object], program: str | None = None) -> Path:
    """Write ``results/<name>.json`` with a timestamp, the machine and the command line."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(program),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
