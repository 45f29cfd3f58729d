"""Shared by the benchmark scripts: writing a result (machine, versions, command: ``scripts/_record.py``,
shared with the release build), the docs folder, the release's work folder. The research scripts'
selection rules are ``research/_rules.py``."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))  # scripts, not installed modules

from _record import RESULTS, command_line, machine, versions, write_result  # noqa: E402,F401  (re-exported)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def release_work() -> Path:
    """The trained (PyTorch) folder the shipped model was exported from: the recipe's ``release.work``."""
    from ccl_embed.train.recipe import read_recipe

    return Path(read_recipe()["release"]["work"]).expanduser()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
