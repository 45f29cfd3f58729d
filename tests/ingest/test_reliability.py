"""kill -9 at several points of an ingest, then the same ingest again, equals a clean run; two ingests
at once on one embedded store: the second fails at once and nothing is corrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ccl_embed.store.edge import EdgeCollection
from tests.conftest import draw

# Runs the real CLI in a child process; CCL_TEST_HOOK=name:when:k makes the child SIGKILL itself at
# the k-th call of EdgeCollection.<name>, before or after the real call (when = before|after).
# CCL_TEST_WAIT=path makes every upsert, once done, write path.waiting and wait until path exists
# (the first write creates the collection and takes its lock).
CHILD = r"""
import os, signal, sys, time
from ccl_embed.store.edge import EdgeCollection
hook = os.environ.get("CCL_TEST_HOOK")
if hook:
    name, when, k = hook.split(":")
    real, calls = getattr(EdgeCollection, name), [0]
    def patched(self, *a, **kw):
        calls[0] += 1
        if calls[0] == int(k) and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(self, *a, **kw)
        if calls[0] == int(k) and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(EdgeCollection, name, patched)
wait = os.environ.get("CCL_TEST_WAIT")
if wait:
    real_upsert = EdgeCollection.upsert
    def waiting(self, points):
        out = real_upsert(self, points)
        open(wait + ".waiting", "w").close()  # tells the test this process is waiting now
        while not os.path.exists(wait):
            time.sleep(0.05)
        return out
    EdgeCollection.upsert = waiting
from ccl_embed.cli import main
sys.argv = ["ccl-embed"] + sys.argv[1:]
main()
"""


def _corpus(root: Path, n: int = 16) -> Path:
    root.mkdir(parents=True)
    colours, shapes = ["red", "green", "blue", "yellow"], ["square", "circle", "bar", "dot", "ring", "cross"]
    for i in range(n):
        c, s = colours[i % 4], shapes[(i // 4) % 6]
        draw(c, s).rotate(i * 7).save(root / f"{i:02d}.png")
        (root / f"{i:02d}.txt").write_text(f"item {i}: a {c} {s}")
    return root


def _default_sigint() -> None:
    """A child's Ctrl-C as a user's terminal gives it: a test run in the background of a
    non-interactive shell inherits SIGINT ignored, and Python then installs no handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(args: list[str], env: dict[str, str] | None = None, wait: bool = True):
    cmd = [sys.executable, "-c", CHILD, *args]
    full_env = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_sigint)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=300)


def _state(store: Path) -> dict[str, tuple[dict, np.ndarray]]:
    with EdgeCollection(store, "c", None) as coll:
        return {pid: (payload, np.asarray(vec)) for pid, payload, vec in
                coll.scan(fields=("path", "sha256", "pairs", "text", "modality"), with_vectors=True)}


def _assert_same(got, want):
    assert got.keys() == want.keys()
    for pid, (payload, vec) in want.items():
        assert got[pid][0] == payload
        np.testing.assert_allclose(got[pid][1], vec, atol=1e-5)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    tmp = tmp_path_factory.mktemp("crash")
    root = _corpus(tmp / "corpus")
    clean = tmp / "clean"
    out = _run(["ingest", str(root), "--store", str(clean), "-c", "c", "--model", str(tiny_model), "-q",
                "--batch-size", "3"])
    assert out.returncode == 0, out.stderr
    return tmp, root, _state(clean)


@pytest.mark.parametrize("hook", ["upsert:after:1", "upsert:before:3", "upsert:after:7", "upsert:before:11",
                                  "optimize:before:1", "optimize:after:1"])
def test_kill_9_then_rerun_equals_a_clean_run(setup, tiny_model, hook):
    tmp, root, clean = setup
    store = tmp / f"store-{hook.replace(':', '-')}"
    args = ["ingest", str(root), "--store", str(store), "-c", "c", "--model", str(tiny_model), "-q", "--batch-size", "3"]
    killed = _run(args, {"CCL_TEST_HOOK": hook})
    assert killed.returncode == -9, killed.stderr
    partial = _state(store)
    n_upserts = int(hook.split(":")[2]) - (hook.split(":")[1] == "before")
    if hook.startswith("upsert"):  # exactly the whole batches written before the kill survive
        batches = [3] * 5 + [1] + [3] * 5 + [1]  # 16 images, then 16 texts, in batches of 3
        assert len(partial) == sum(batches[:n_upserts])
    else:
        assert len(partial) == len(clean)
    rerun = _run(args)
    assert rerun.returncode == 0, rerun.stderr
    _assert_same(_state(store), clean)


def test_kill_9_while_replacing_edited_files(setup, tiny_model, tmp_path):
    _, _, _ = setup
    root = _corpus(tmp_path / "corpus")
    store = tmp_path / "store"
    def args_for(where: Path) -> list[str]:
        return ["ingest", str(root), "--store", str(where), "-c", "c", "--model", str(tiny_model), "-q"]

    args = args_for(store)
    assert _run(args).returncode == 0
    for i in range(4):
        (root / f"{i:02d}.txt").write_text(f"edited {i}")
    killed = _run(args, {"CCL_TEST_HOOK": "delete:before:1"})  # new points stored, old ones not yet removed
    assert killed.returncode == -9
    assert len(_state(store)) == 36
    assert _run(args).returncode == 0
    clean = tmp_path / "clean"
    assert _run(args_for(clean)).returncode == 0
    _assert_same(_state(store), _state(clean))


def test_second_ingest_waits_a_bounded_time_then_names_the_holder(setup, tiny_model, tmp_path):
    tmp, root, clean = setup
    store = tmp_path / "store"
    go = tmp_path / "go"
    args = ["ingest", str(root), "--store", str(store), "-c", "c", "--model", str(tiny_model), "-q", "--batch-size", "3"]
    first = _run(args, {"CCL_TEST_WAIT": str(go)}, wait=False)
    lock = store / "c" / ".lock"
    deadline = time.time() + 120
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        assert time.time() < deadline and first.poll() is None, "the first ingest never took the lock"
        time.sleep(0.05)
    started = time.time()
    second = _run(args, {"CCL_EMBED_WAIT": "1"})
    assert second.returncode == 2
    assert f"in use by another ccl-embed process (pid {first.pid}) (waited 1 s)" in second.stderr
    assert f"note: collection 'c' of the embedded store {store} is in use by pid {first.pid}; waiting up to 1 s" \
        in second.stderr
    assert "Traceback" not in second.stderr and 1 <= time.time() - started < 30
    go.write_text("go")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _assert_same(_state(store), clean)
