"""ccl_embed.connect(URL): the SDK's calls over HTTP, against a server run in a thread."""

from __future__ import annotations

import pytest
from PIL import Image

import ccl_embed
from ccl_embed.errors import CCLEmbedError
from ccl_embed.serve.client import ServerError
from ccl_embed.store.record import Holding, read_record, served_at
from ccl_embed.store.base import StoreError
from tests.conftest import draw


def test_the_client_gives_what_the_sdk_gives(live, folder):
    server = ccl_embed.connect(live.url, collection="t")
    assert server.health()["model"] == "tiny"
    local = live.service.search("a blue circle", limit=4)
    remote = server.search("a blue circle", limit=4)
    assert [(h.id, h.path, h.modality) for h in remote] == [(h.id, h.path, h.modality) for h in local]
    assert [h.score for h in remote] == pytest.approx([h.score for h in local], abs=1e-6)
    by_path = server.search(folder / "blue-circle.png", limit=1, modality="image")[0]
    by_pil = server.search(Image.open(folder / "blue-circle.png"), limit=1, modality="image")[0]
    assert by_path.path == by_pil.path == "blue-circle.png"
    assert [h.path for h in server.search("a shape", limit=19, where={"label": "yellow"}, modality="image")] == [
        "labelled/square.png"]
    assert server.thumbnail(by_path.id)[:2] == b"\xff\xd8"
    assert {c.name: c.count for c in server.collections()} == {"t": 19}


def test_ingest_through_the_client_reports_progress_and_the_summary(live, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    for i in range(5):
        draw("red", "bar").rotate(10 * i).save(more / f"{i}.png")
    seen: list[dict] = []
    summary = ccl_embed.connect(live.url).ingest(more, collection="more", on_progress=seen.append, batch_size=2)
    assert summary["added"] == 5 and summary["points"] == 5 and summary["collection"] == "more"
    assert seen[-1]["status"] == "done" and seen[-1]["done"] == 5


def test_client_errors_say_what_happened(live):
    server = ccl_embed.connect(live.url)
    with pytest.raises(ServerError, match="collection 'nope' does not exist") as e:
        server.search("x", collection="nope")
    assert e.value.status == 404
    with pytest.raises(ServerError, match="no such folder"):
        server.ingest("/definitely/not/here")
    with pytest.raises(CCLEmbedError, match="pass a str"):
        server.search(42)  # type: ignore[arg-type]
    with pytest.raises(CCLEmbedError, match="http:// or https://"):
        ccl_embed.connect("localhost:8700")
    with pytest.raises(StoreError, match="no ccl-embed server answers at http://127.0.0.1:9"):
        ccl_embed.connect("http://127.0.0.1:9", timeout=2).health()


def test_the_record_says_where_and_the_sdk_points_there(live, tiny_model):
    record = served_at(live.store)
    assert record is not None and record.url == live.url and not record.auth
    with pytest.raises(CCLEmbedError, match="already served at http://127.0.0.1"):
        Holding(live.store)
    with pytest.raises(StoreError, match=r"it is served at http://127.0.0.1:\d+; use ccl_embed.connect"):
        ccl_embed.open("t", store=live.store, model=tiny_model, device="cpu")


def test_a_dead_servers_record_is_removed(tmp_path):
    store = tmp_path / "s"
    holding = Holding(store)
    holding.publish("http://127.0.0.1:1", auth=False)
    assert served_at(store) is not None
    holding._handle.close()  # what the kernel does when the process dies, even by kill -9
    holding._handle = None
    assert read_record(store) is not None  # left behind
    assert served_at(store) is None and read_record(store) is None
    with pytest.raises(CCLEmbedError, match="has not said where it answers after 0.2 s"):
        with Holding(store):  # holds the lock, publishes nothing yet: a server loading its model
            served_at(store, wait=0.2)


def test_more_like_a_stored_item_through_the_client(live):
    server = ccl_embed.connect(live.url)
    first = server.search("a red square", limit=1, modality="image")[0]
    like = server.search(like=first.id, limit=3, modality="image")
    assert len(like) == 3 and first.id not in {h.id for h in like}
    assert [h.id for h in like] == [h.id for h in live.service.search(None, like=first.id, limit=3, modality="image")]


def test_the_client_pages_and_lists_labels_as_the_sdk_does(live):
    server = ccl_embed.connect(live.url)
    assert [h.id for h in server.search("a red bar", limit=4, offset=3)] == [
        h.id for h in live.service.search("a red bar", limit=7)][3:]
    assert server.labels() == live.service.labels() == {"green": 2, "red": 2, "yellow": 2}
