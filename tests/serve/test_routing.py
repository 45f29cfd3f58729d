"""`ccl-embed serve` as a user runs it: the CLI goes through it, many searches at once and during an
ingest; a killed server's record is detected; without a server, a short holder is waited for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccl_embed.store.record import served_at
from tests.conftest import draw, make_folder

CLI = [sys.executable, "-m", "ccl_embed.cli"]


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "CCL_EMBED_STORE": str(tmp_path / "store"), "CCL_EMBED_WAIT": "30"}


def _start(env: dict[str, str], model: Path, store: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([*CLI, "serve", "--model", str(model), "--port", "0", "-c", "t", "--device", "cpu"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        if (store / ".ccl-serve.json").exists() and served_at(store, wait=5) is not None:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("serve did not start")


def test_the_cli_goes_through_a_running_server(tmp_path, tiny_model, env):
    store = tmp_path / "store"
    folder = make_folder(tmp_path / "f")
    plain = _cli("ingest", str(folder), "--model", str(tiny_model), "-c", "t", "--json", "--store",
                 str(tmp_path / "plain"), env=env)
    assert plain.returncode == 0, plain.stderr
    server = _start(env, tiny_model, store)
    try:
        routed = _cli("ingest", str(folder), "-c", "t", "--json", env=env)
        assert routed.returncode == 0, routed.stderr
        want, got = json.loads(plain.stdout), json.loads(routed.stdout)
        assert got.keys() == want.keys() and {k: got[k] for k in want} == want
        # Several searches at once, and searches while an ingest runs: none fails.
        big = tmp_path / "big"
        big.mkdir()
        for i in range(60):
            draw("blue", "ring").rotate(i).save(big / f"{i}.png")
        ingest = subprocess.Popen([*CLI, "ingest", str(big), "-c", "t", "--batch-size", "2", "-q"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        searches = [subprocess.Popen([*CLI, "search", "a red square", "-c", "t", "-k", "3", "--json"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outs = [p.communicate(timeout=120) for p in searches]
        assert all(p.returncode == 0 for p in searches), [e for _, e in outs]
        assert all(len(json.loads(o)) == 3 for o, _ in outs)
        assert "going through it" not in outs[0][0]  # notes go to stderr, never into --json
        _, err = ingest.communicate(timeout=120)
        assert ingest.returncode == 0, err
        listed = _cli("collections", env=env)
        assert listed.returncode == 0 and "t  79 points  model tiny" in listed.stdout
        dropped = _cli("drop", "t", "--yes", env=env)
        assert dropped.returncode == 2 and "served by a ccl-embed server; stop it" in dropped.stderr
        other = _cli("search", "x", "-c", "t", "--model", "/models/clip", env=env)
        assert other.returncode == 2 and "with model 'tiny', not '/models/clip'" in other.stderr
        second = subprocess.run([*CLI, "serve", "--model", str(tiny_model), "--port", "0"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "is already served at http://127.0.0.1" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        server.send_signal(signal.SIGKILL)  # kill -9: the record stays behind
        server.wait(30)
    assert (store / ".ccl-serve.json").exists()
    alone = _cli("search", "a red square", "-c", "t", "-k", "1", "--model", str(tiny_model), env=env)
    assert alone.returncode == 0 and "going through it" not in alone.stderr
    assert not (store / ".ccl-serve.json").exists()  # found stale, removed


def test_serve_stops_cleanly_and_refuses_an_open_host_without_a_key(tmp_path, tiny_model, env):
    store = tmp_path / "store"
    server = _start(env, tiny_model, store)
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0 and "stopped" in err and not (store / ".ccl-serve.json").exists()
    open_host = _cli("serve", "--host", "0.0.0.0", "--model", str(tiny_model), env=env)
    assert open_host.returncode == 2 and "give an API key too" in open_host.stderr
    env_key = {**env, "CCL_EMBED_API_KEY": "k3y-never-shown"}
    busy = subprocess.Popen([sys.executable, "-c", "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 0)); "
                             "s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = busy.stdout.readline().strip() if busy.stdout else ""
        taken = _cli("serve", "--port", port, "--model", str(tiny_model), "--store", str(tmp_path / "s2"), env=env_key)
        assert taken.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr
        assert "choose another --port" in taken.stderr and "k3y" not in taken.stderr + taken.stdout
    finally:
        busy.kill()
        busy.wait()
