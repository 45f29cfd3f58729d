"""Every Python example of the README runs (from the repository root, on a private store)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path):
    env = {"CCL_EMBED_STORE": str(tmp_path / "store"), "CCL_EMBED_CACHE": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"README example {index} failed:\n{BLOCKS[index]}\n{out.stderr[-2000:]}"
    assert out.stdout.strip(), "the example printed nothing"


def test_readme_set_up_command_ingests_and_searches_the_example_corpus(tmp_path):
    """The README's first set-up command, minus the install (this environment is installed)."""
    command = re.search(r"```bash\n(python3 -m venv .*?)\n```", (ROOT / "README.md").read_text()).group(1)
    steps = [s.strip() for s in command.split("&&")][2:]  # ingest, then search
    assert steps[0].startswith(".venv/bin/ccl-embed ingest") and steps[1].startswith(".venv/bin/ccl-embed search")
    env = {"CCL_EMBED_STORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    cli = [sys.executable, "-c", "from ccl_embed.cli import main; main()"]
    outputs = []
    for step in steps:
        out = subprocess.run(cli + shlex.split(step)[1:], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        outputs.append(out.stdout)
    pictures = sorted(p.name for p in (ROOT / "examples" / "corpus").iterdir() if p.suffix in (".jpg", ".png"))
    assert len(pictures) >= 12
    assert f"examples: {2 * len(pictures) + 2} added, 0 unchanged, 0 skipped, 0 failed" in outputs[0]
    hits = outputs[1].splitlines()
    assert len(hits) == 5 and all(re.match(r" ?-?\d\.\d{4}  (image|text) ", h) for h in hits)
    # the relevance that orders is what is printed, and the exact caption leads
    shown = [float(h.split()[0]) for h in hits]
    assert shown == sorted(shown, reverse=True) and shown[0] == 1.0 and "dogs.txt" in hits[0]
    # The README promises the right picture: the first image hit of its search is the two dogs.
    first_image = next(h for h in hits if re.match(r" ?-?\d\.\d{4}  image ", h))
    assert "dogs.jpg" in first_image, outputs[1]


def test_the_readme_quotes_the_measured_example_corpus_results():
    import json

    measured = json.loads((ROOT / "benchmarks" / "results" / "example_corpus.json").read_text())
    quoted = re.search(r"Among the images, (\d+) of the (\d+) do, and (\d+) of (\d+)", (ROOT / "README.md").read_text())
    assert quoted, "the README no longer quotes the example corpus's results"
    first, n, mixed, n2 = (int(g) for g in quoted.groups())
    assert (first, n, mixed, n2) == (measured["found_first_among_images"], measured["captions"],
                                      measured["in_mixed_top3"], measured["captions"])
