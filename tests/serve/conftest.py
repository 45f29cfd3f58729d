"""A service over a tiny model and an ingested folder, and the same served over HTTP in a thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ccl_embed.store.record import Holding
from ccl_embed.serve.server import run
from ccl_embed.serve.service import Service
from ccl_embed.store import StoreOptions
from tests.conftest import make_folder

pytest.importorskip("fastapi", reason="the serve extra is not installed")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Servers started here leave their ingest tokens in the test's cache, never the user's."""
    monkeypatch.setenv("CCL_EMBED_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def folder(tmp_path) -> Path:
    return make_folder(tmp_path / "f")


@pytest.fixture()
def service(tmp_path, tiny_model, folder):
    """A service with collection ``t`` holding ``folder``."""
    with Service(StoreOptions(store=tmp_path / "store"), model=tiny_model, device="cpu", collection="t") as s:
        s.ingest(str(folder))
        yield s


class Live:
    """A server run in a thread: its URL, its service, and how to stop it."""

    def __init__(self, service: Service, store: Path, api_key: str | None = None) -> None:
        self.service, self.store = service, store
        self.stop = threading.Event()
        ready = threading.Event()
        self.url = ""

        def on_ready(url: str) -> None:
            self.url = url
            ready.set()

        self.thread = threading.Thread(target=run, args=(service,), kwargs={
            "port": 0, "api_key": api_key, "on_ready": on_ready, "holding": Holding(store), "stop": self.stop},
            daemon=True)
        self.thread.start()
        if not ready.wait(60):
            raise RuntimeError("the test server did not start")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture()
def live(tmp_path, tiny_model, folder):
    """``ccl-embed serve`` of collection ``t`` (holding ``folder``) in a thread, on a free port."""
    store = tmp_path / "store"
    service = Service(StoreOptions(store=store), model=tiny_model, device="cpu", collection="t")
    service.ingest(str(folder))
    server = Live(service, store)
    yield server
    server.close()
