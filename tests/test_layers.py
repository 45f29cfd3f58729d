"""Imports point one way (docs/architecture.md): runtime at the bottom, training and export above it.

Every import of every installed module is read from its source (function-level imports
included), so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"ccl_embed": ROOT / "ccl_embed", "ccl_embed.export": ROOT / "export", "ccl_embed.plugin": ROOT / "plugin"}

FORBIDDEN = {  # package -> modules it must never import (a name and everything under it)
    "ccl_embed.runtime": ("ccl_embed.serve", "ccl_embed.data", "ccl_embed.model", "ccl_embed.train", "ccl_embed.ingest", "ccl_embed.store",
                          "ccl_embed.sdk", "ccl_embed.cli", "ccl_embed.export", "ccl_embed.plugin",
                          "ccl_embed.evaluation", "torch"),
    "ccl_embed.model": ("ccl_embed.serve", "ccl_embed.train", "ccl_embed.export", "ccl_embed.ingest", "ccl_embed.store", "ccl_embed.sdk",
                        "ccl_embed.cli", "ccl_embed.plugin"),
    "ccl_embed.store": ("ccl_embed.serve", "ccl_embed.runtime", "ccl_embed.model", "ccl_embed.train", "ccl_embed.export",
                        "ccl_embed.data", "ccl_embed.ingest", "ccl_embed.sdk", "ccl_embed.evaluation", "torch"),
    "ccl_embed.export": ("ccl_embed.serve", "ccl_embed.train", "ccl_embed.ingest", "ccl_embed.store", "ccl_embed.sdk", "ccl_embed.cli",
                         "ccl_embed.plugin"),
    "ccl_embed.data": ("ccl_embed.model", "ccl_embed.train", "ccl_embed.export", "ccl_embed.ingest", "ccl_embed.store",
                       "ccl_embed.sdk", "ccl_embed.cli", "torch"),
    "ccl_embed.sdk": ("ccl_embed.serve", "ccl_embed.cli", "ccl_embed.train", "ccl_embed.model", "ccl_embed.export",
                      "torch"),
    "ccl_embed.ingest": ("ccl_embed.serve", "ccl_embed.sdk", "ccl_embed.cli", "ccl_embed.train", "ccl_embed.model",
                         "torch"),
    # The server sits on the SDK: never on training, export or torch.
    "ccl_embed.serve": ("ccl_embed.train", "ccl_embed.model", "ccl_embed.export", "ccl_embed.data", "ccl_embed.cli",
                        "ccl_embed.plugin", "torch"),
}
NO_ROOT = ("ccl_embed.runtime", "ccl_embed.model", "ccl_embed.store", "ccl_embed.data", "ccl_embed.train",
           "ccl_embed.serve")
"""Packages that must not import the package root (it imports the SDK, which sits above them)."""


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "ccl_embed" and parts and parts[0] in ("models",):
                continue
            out[".".join([package, *parts])] = path
    return out


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


ALL = modules()


def test_the_scan_sees_every_layer():
    for package in (*FORBIDDEN, "ccl_embed.train", "ccl_embed.export", "ccl_embed.plugin"):
        assert any(_under(m, package) for m in ALL), package
    assert len(ALL) > 50


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package):
    wrong = sorted(f"{m} imports {name}" for m, path in ALL.items() if _under(m, package)
                   for name in imports(path) for bad in FORBIDDEN[package] if _under(name, bad))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", NO_ROOT)
def test_lower_layers_never_import_the_package_root(package):
    wrong = sorted(m for m, path in ALL.items() if _under(m, package)
                   if any(name == "ccl_embed" or (name.startswith("ccl_embed.") and name.count(".") == 1
                                                  and name.split(".")[1] in {"__version__", "open", "Hit", "Index"})
                          for name in imports(path)))
    assert not wrong, wrong


def test_no_installed_module_edits_sys_path():
    wrong = []
    for m, path in ALL.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                    and node.value.id == "sys":
                wrong.append(m)
    assert not wrong, wrong


def test_the_checker_catches_a_violation(tmp_path):
    """The scan itself works: a module importing upwards is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ccl_embed.train.loop import train_ccl\n    import sys\n    sys.path.insert(0, 'x')\n")
    assert "ccl_embed.train.loop" in imports(bad)
