"""benchmarks/device_parts.py, rehearsed here: files cut into parts, the parts grouped into calls
that fit what one device call carries, sent call by call, and put back together, each checked."""

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("device_parts", Path(__file__).resolve().parent.parent / "benchmarks"
                                              / "device_parts.py")
assert spec is not None and spec.loader is not None
parts_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parts_tool)


def _files(tmp_path: Path) -> list[Path]:
    made = []
    for name, size in (("onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl", 2_600_000),
                       ("model-default.tar", 1_100_000), ("tiny.whl", 10)):
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        made.append(path)
    return made


def test_files_cut_sent_call_by_call_and_put_back_are_the_same(tmp_path, monkeypatch):
    files = _files(tmp_path)
    parts = tmp_path / ".device" / "parts"
    manifest = parts_tool.split(files, parts, 1 << 20)
    assert [len(manifest["files"][f.name]["parts"]) for f in files] == [3, 2, 1]
    assert max(p.stat().st_size for p in parts.iterdir()) <= 1 << 20
    monkeypatch.setattr(parts_tool, "ROOT", tmp_path)
    monkeypatch.setattr(parts_tool, "CALL_MIB", 3)  # one call: a 0.5 MiB tree, parts of 1 MiB, a MiB spare
    calls = parts_tool.plan(parts, 1 << 20, 1 << 19)
    carried = [c for call in calls for c in call["carry"]]
    assert sorted(carried) == sorted(f".device/parts/{p.name}" for p in parts.iterdir())  # each part once
    room = (3 << 20) - (1 << 19) - (1 << 20)
    assert len(calls) >= 3 and all(sum((tmp_path / c).stat().st_size for c in call["carry"]) <= room for call in calls)
    assert calls[-1]["carry"][-1] == ".device/parts/MANIFEST.json" and "device_parts.py check" in calls[-1]["command"]
    assert all("check" not in c["command"] for c in calls[:-1])
    device = tmp_path / "device-tmp"  # what the warm machine keeps between calls
    for call in calls:
        for carried in call["carry"]:
            device.mkdir(exist_ok=True)
            shutil.copy(tmp_path / carried, device / Path(carried).name)
    back = parts_tool.assemble(device, tmp_path / "assembled")
    assert [p.name for p in back] == [f.name for f in files]
    assert all((tmp_path / "assembled" / f.name).read_bytes() == f.read_bytes() for f in files)


def test_a_missing_or_damaged_part_is_named(tmp_path):
    files = _files(tmp_path)
    parts = tmp_path / "parts"
    parts_tool.split(files, parts, 1 << 20)
    (parts / "model-default.tar.part001").unlink()
    with pytest.raises(SystemExit, match=r"model-default.tar: parts model-default.tar.part001 did not arrive"):
        parts_tool.assemble(parts, tmp_path / "out")
    parts_tool.split(files, parts, 1 << 20)
    damaged = parts / "tiny.whl.part000"
    damaged.write_bytes(b"x" * 10)
    with pytest.raises(SystemExit, match="tiny.whl: put back together it is not the file that was cut"):
        parts_tool.assemble(parts, tmp_path / "out")


def test_parts_that_cannot_fit_beside_the_tree_say_what_to_do(tmp_path):
    parts = tmp_path / "parts"
    parts_tool.split(_files(tmp_path), parts, 60 << 20)
    with pytest.raises(SystemExit, match="hide the model folder"):
        parts_tool.plan(parts, 60 << 20, 62 << 20)  # the tree with the model folder in it
    assert json.loads((parts / "MANIFEST.json").read_text())["files"]
