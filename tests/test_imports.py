"""The runtime stays light: importing ccl_embed loads neither torch nor onnxruntime."""

import subprocess
import sys


def test_import_loads_no_heavy_framework():
    code = ("import sys, ccl_embed; heavy = [m for m in ('torch', 'onnxruntime', 'transformers', 'sklearn') "
            "if m in sys.modules]; print(heavy); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code.replace("'sklearn'", "'sklearn', 'fastapi', 'uvicorn', 'mcp'")],
                   check=True)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_root_api_is_small():
    import ccl_embed

    assert len(ccl_embed.__all__) <= 10
    assert all(hasattr(ccl_embed, n) for n in ccl_embed.__all__)


def test_missing_extra_names_the_pip_command(monkeypatch):
    import pytest

    from ccl_embed.errors import MissingDependencyError, require

    monkeypatch.setitem(sys.modules, "not_installed_pkg", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'ccl-embed\[train\]'"):
        require("not_installed_pkg", "train")


def test_wheel_installs_export_and_plugin_under_ccl_embed_only(tmp_path):
    """`export/` and `plugin/` ship as ccl_embed.export and ccl_embed.plugin, never as bare top-level modules."""
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(root)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("ccl_embed-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "ccl_embed/plugin/__init__.py" in names and "ccl_embed/plugin/fastembed_bridge.py" in names
    assert "ccl_embed/export/__init__.py" in names and "ccl_embed/store/edge.py" in names
    assert "ccl_embed/models/default/config.json" in names
    assert {"ccl_embed/serve/static/index.html", "ccl_embed/serve/static/app.js"} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"plugin", "export", "tests", "benchmarks", "examples"}, tops
