"""docs/serve.md: its Python example runs against a live server, and its figures are the measured ones."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "serve.md").read_text()


def test_the_python_example_runs_against_a_server(live, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 1 and "http://127.0.0.1:8700" in blocks[0]
    shutil.copytree(ROOT / "examples" / "corpus", tmp_path / "examples" / "corpus")
    code = blocks[0].replace("http://127.0.0.1:8700", live.url)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    pictures = [p for p in (ROOT / "examples" / "corpus").iterdir() if p.suffix in (".jpg", ".png")]
    items = 2 * len(pictures) + 2  # each picture, its caption, and two notes (as the README's set-up counts)
    assert lines[0] == f"{items} 0 {items}", lines[0]
    assert len(lines) == 4 and all(re.match(r"-?\d\.\d{3} (image|text) ", line) for line in lines[1:])


def test_the_load_figures_are_the_measured_ones():
    r = json.loads((ROOT / "benchmarks" / "results" / "serve.json").read_text())
    u = r["under_load"]
    assert r["passed"] and u["failed_requests"] == 0 and u["clients"] == 8 and r["files"] == 2000
    for kind in ("text_during_ingest", "image_during_ingest"):
        t = u["latency"][kind]
        assert f"{t['p50_ms']} / {t['p95_ms']} / {t['p99_ms']} ms ({t['n']} queries)" in DOC, kind
    assert f"{u['requests']} ({u['requests_per_s']} per second), **0 failed**" in DOC
    k = r["killed_mid_ingest"]
    assert f"killed by SIGKILL at {k['killed_at_items']} of {k['of_items']} items" in DOC
    assert k["equals_clean_run"]["equal"] and u["equals_clean_run"]["equal"]


def test_the_page_screenshots_are_shown_and_made_by_their_script():
    from PIL import Image

    script = (ROOT / "scripts" / "serve_screenshots.py").read_text()
    for name in ("serve-results.png", "serve-item.png"):
        assert f"](images/{name})" in DOC and f'"{name}"' in script
        with Image.open(ROOT / "docs" / "images" / name) as shot:
            assert shot.format == "PNG" and shot.width == 1200 and shot.height > 800
    assert "python scripts/serve_screenshots.py" in DOC
