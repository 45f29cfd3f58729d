"""The SDK: ccl_embed.open(), ingest, search by text, path or PIL image; the same results on every backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import ccl_embed
from ccl_embed.errors import CCLEmbedError
from ccl_embed.runtime.embedder import Embedder
from ccl_embed.sdk import Index, model_meta
from ccl_embed.store.base import StoreError
from ccl_embed.store.client import ClientCollection
from tests.conftest import make_folder


@pytest.fixture()
def index(tmp_path, tiny_model):
    make_folder(tmp_path / "f")
    with ccl_embed.open("t", store=tmp_path / "store", model=tiny_model, device="cpu") as ix:
        yield ix


def test_open_ingest_and_search(tmp_path, index):
    summary = index.ingest(tmp_path / "f")
    assert summary.added == 19 and summary.complete and index.count() == 19
    hits = index.search("a green circle", limit=5)
    assert len(hits) == 5 and all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    top = index.search("a red square", limit=1, modality="text")[0]
    assert (top.modality, top.path, top.text, top.label) == ("text", "red-square.txt", "a red square", None)
    by_path = index.search(Path(tmp_path / "f" / "blue-circle.png"), limit=1, modality="image")[0]
    assert by_path.path == "blue-circle.png" and by_path.score == pytest.approx(1.0, abs=1e-4)
    with Image.open(tmp_path / "f" / "blue-circle.png") as img:
        by_pil = index.search(img.copy(), limit=1, modality="image")[0]
    assert by_pil.id == by_path.id
    labelled = index.search("a shape", limit=10, where={"label": "yellow"})
    assert {h.path for h in labelled} == {"labelled/square.png", "labelled/pairs.jsonl:2"}


def test_search_by_image_is_asked_for_by_name_and_a_str_is_always_text(tmp_path, index):
    index.ingest(tmp_path / "f")
    picture = tmp_path / "f" / "blue-circle.png"
    by_path = index.search(Path(picture), limit=1, modality="image")[0]
    for image in (str(picture), picture, picture.read_bytes(), Image.open(picture).copy()):
        assert index.search(image=image, limit=1, modality="image")[0].id == by_path.id
    with pytest.warns(UserWarning, match="to search by that image, pass image="):
        as_text = index.search(str(picture), limit=1, modality="image")  # a str is text, and says so
    assert as_text[0].score < 0.999
    with pytest.raises(CCLEmbedError, match="not both"):
        index.search("a circle", image=picture)
    with pytest.raises(CCLEmbedError, match="give a text to search for, or image="):
        index.search()
    with pytest.raises(CCLEmbedError, match="not a readable image"):
        index.search(image=b"not an image")


def test_more_like_a_stored_item(tmp_path, index):
    index.ingest(tmp_path / "f")
    item = index.search(Path(tmp_path / "f" / "blue-circle.png"), limit=1, modality="image")[0]
    like = index.search(like=item.id, limit=3, modality="image")
    by_image = index.search(Path(tmp_path / "f" / "blue-circle.png"), limit=4, modality="image")
    assert [h.id for h in like] == [h.id for h in by_image if h.id != item.id][:3]  # the item itself left out
    assert len(index.search(like=item.id.upper(), limit=5)) == 5 and item.id not in {
        h.id for h in index.search(like=item.id.upper(), limit=5)}
    with pytest.raises(CCLEmbedError, match="no such item"):
        index.search(like="00000000-0000-0000-0000-000000000000")
    with pytest.raises(CCLEmbedError, match="a UUID"):
        index.search(like="blue-circle.png")
    with pytest.raises(CCLEmbedError, match="one of a text, image= or like="):
        index.search("a circle", like=item.id)


def test_where_takes_a_qdrant_filter_of_must_matches(tmp_path, index):
    models = pytest.importorskip("qdrant_client.models")
    index.ingest(tmp_path / "f")
    plain = index.search("a shape", limit=10, where={"label": "yellow"})
    must = models.Filter(must=[models.FieldCondition(key="label", match=models.MatchValue(value="yellow"))])
    assert [h.id for h in index.search("a shape", limit=10, where=must)] == [h.id for h in plain]
    either = models.Filter(must=[models.FieldCondition(key="label", match=models.MatchAny(any=["yellow", "green"]))])
    assert {h.id for h in index.search("a shape", limit=10, where=either)} >= {h.id for h in plain}
    with pytest.raises(CCLEmbedError, match="only must= conditions"):
        index.search("a shape", where=models.Filter(must_not=[models.FieldCondition(key="label", match=models.MatchValue(value="x"))]))


def test_bad_queries_say_what_to_pass(index):
    with pytest.raises(CCLEmbedError, match="modality='video'"):
        index.search("x", modality="video")
    with pytest.raises(CCLEmbedError, match="limit=0"):
        index.search("x", limit=0)
    with pytest.raises(CCLEmbedError, match="pass a str"):
        index.search(42)  # type: ignore[arg-type]


def test_another_model_on_the_collection_is_refused(tmp_path, index):
    index.ingest(tmp_path / "f")
    index.close()
    with pytest.raises(StoreError, match="holds vectors of model 'tiny'"):
        ccl_embed.open("t", store=tmp_path / "store", model="default")
    with pytest.raises(StoreError, match="does not exist"):
        ccl_embed.open("other", store=tmp_path / "store", model=index.embedder.model.folder, create=False)


def test_store_location_follows_the_environment(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("CCL_EMBED_STORE", str(tmp_path / "elsewhere"))
    make_folder(tmp_path / "f")
    with ccl_embed.open("x", model=tiny_model) as ix:
        assert ix.count() == 0
        ix.ingest(tmp_path / "f")
    assert (tmp_path / "elsewhere" / "x" / "collection.json").is_file()


def test_the_same_ingest_and_search_on_every_backend(tmp_path, tiny_model):
    """Congruence: the embedded engine and qdrant-client (local mode; a server when QDRANT_URL is set)."""
    import os

    from qdrant_client import QdrantClient

    root = make_folder(tmp_path / "f")
    embedder = Embedder(tiny_model, device="cpu")
    meta = model_meta(embedder.model)
    results = {}
    backends = {"edge": lambda: ccl_embed.open("t", store=tmp_path / "s", model=tiny_model, device="cpu"),
                "local": lambda: Index(ClientCollection("t", meta, client=QdrantClient(location=":memory:")), embedder)}
    if os.environ.get("QDRANT_URL"):
        import uuid

        name = f"ccl-congruence-{uuid.uuid4().hex[:8]}"
        backends["server"] = lambda: ccl_embed.open(name, url=os.environ["QDRANT_URL"],
                                                    api_key=os.environ.get("QDRANT_API_KEY"), model=tiny_model)
    for backend, make in backends.items():
        with make() as ix:
            summary = ix.ingest(root)
            ids = sorted(pid for pid, _, _ in ix.collection.scan())
            queries = [ix.search(q, limit=8) for q in ("a red square", "a blue circle", "notes")]
            queries.append(ix.search(root / "green-bar.png", limit=8, modality="text"))
            queries.append(ix.search(like=queries[0][0].id, limit=8))  # more like a stored item
            results[backend] = (summary.to_dict(), ids, [[(h.id, round(h.score, 4)) for h in hs] for hs in queries])
            if backend == "server":
                ix.collection._client.delete_collection(ix.collection.name)  # type: ignore[attr-defined]
    first = results.pop("edge")
    for backend, got in results.items():
        assert got == first, backend


def test_import_stays_light():
    code = ("import sys, ccl_embed; ccl_embed.open; "
            "print(any(m in sys.modules for m in ('torch', 'onnxruntime', 'qdrant_edge', 'qdrant_client')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_store_choice_is_validated_before_the_model_loads(tmp_path):
    import pytest

    import ccl_embed
    from ccl_embed.store import StoreOptions

    with pytest.raises(ccl_embed.StoreError, match="not both"):
        ccl_embed.open(store=tmp_path, url="http://127.0.0.1:9", model=tmp_path / "missing")
    with pytest.raises(ccl_embed.StoreError, match="apply to a server"):
        StoreOptions(shards=2)
    with pytest.raises(ccl_embed.StoreError, match="either as options=StoreOptions"):
        ccl_embed.open(store=tmp_path, options=StoreOptions(store=tmp_path), model=tmp_path / "missing")
    assert "SECRET" not in repr(StoreOptions(url="http://h:1", api_key="SECRET"))


def test_describe_model_reports_the_manifest(tiny_model):
    from ccl_embed.sdk import describe_model

    info = describe_model(tiny_model, device="cpu")
    assert (info.name, info.dim, info.device, info.distance) == ("tiny", 16, "cpu", "cosine")
    assert "CPUExecutionProvider" in info.providers
