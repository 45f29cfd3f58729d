"""The runtime stays light: importing ccl_embed loads neither torch nor onnxruntime."""

import subprocess
import sys


def test_import_loads_no_heavy_framework():
    code = ("import sys, ccl_embed; heavy = [m for m in ('torch', 'onnxruntime', 'transformers', 'sklearn') "
            "if m in sys.modules]; print(heavy); assert not heavy, heavy")
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
