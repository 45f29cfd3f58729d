"""The server's core: searches, ingest jobs equal to a plain ingest, thumbnails of stored files only."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

import ccl_embed
from ccl_embed.errors import CCLEmbedError
from ccl_embed.serve.service import Conflict, Forbidden, NotFound, Service, decode_upload
from ccl_embed.store import StoreOptions
from tests.conftest import draw, make_folder


def _points(index) -> dict[str, tuple[dict, list[float]]]:
    return {pid: (payload, vec) for pid, payload, vec in index.collection.scan(
        None, ("modality", "path", "root", "sha256", "label", "pairs", "text"), with_vectors=True)}


def test_an_ingest_job_equals_a_plain_ingest(tmp_path, tiny_model, service, folder):
    with ccl_embed.open("t", store=tmp_path / "plain", model=tiny_model, device="cpu") as plain:
        expected = plain.ingest(folder).to_dict()
        want = _points(plain)
    job = service.wait(service.start_ingest(str(folder), collection="t"))
    assert job.status == "done" and job.summary is not None
    assert job.summary["unchanged"] == 19 and job.summary["added"] == 0 and job.summary["points"] == 19
    got = _points(service.index("t"))
    assert got.keys() == want.keys()
    for pid, (payload, vec) in want.items():
        assert got[pid][0] == payload
        assert got[pid][1] == pytest.approx(vec, abs=1e-6)
    fresh = service.ingest(str(folder), collection="fresh")
    assert {k: fresh[k] for k in expected} == expected and fresh["points"] == 19


def test_searches_run_while_an_ingest_runs(tmp_path, service):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(120):
        draw(("red", "green", "blue", "yellow")[i % 4], ("square", "circle", "bar")[i % 3]).rotate(i).save(big / f"{i}.png")
    job = service.start_ingest(str(big), collection="t", batch_size=4)
    seen, errors = [], []

    def searcher() -> None:
        while not job.ended:
            try:
                seen.append(len(service.search("a red square", collection="t", limit=3)))
            except Exception as e:  # noqa: BLE001 - any failure fails the test below
                errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    service.wait(job, 120)
    for t in threads:
        t.join()
    assert job.status == "done" and job.summary["added"] == 120
    assert not errors and seen and all(n == 3 for n in seen)
    assert job.to_dict()["rate"] > 0 and job.total == 120 and job.done == 120


def test_bad_folders_and_collections_say_why(tmp_path, tiny_model, service, folder):
    with pytest.raises(CCLEmbedError, match="absolute path"):
        service.start_ingest("relative/dir")
    with pytest.raises(NotFound, match="no such folder"):
        service.start_ingest(str(tmp_path / "absent"))
    with pytest.raises(NotFound, match="collection 'nope' does not exist"):
        service.search("x", collection="nope")
    with pytest.raises(NotFound, match="not known to this server"):
        service.job("123")
    with Service(StoreOptions(store=tmp_path / "s2"), model=tiny_model, device="cpu",
                 ingest_under=[folder / "labelled"]) as fenced:
        with pytest.raises(Forbidden, match="outside the folders this server ingests"):
            fenced.start_ingest(str(folder))
        assert fenced.ingest(str(folder / "labelled"))["added"] == 6


def test_another_models_collection_is_refused(tmp_path, tiny_model, service):
    from ccl_embed.store import open_collection
    from ccl_embed.store.base import CollectionMeta, Point

    with open_collection("other", CollectionMeta("m2", "v9", 3), StoreOptions(store=tmp_path / "store")) as coll:
        coll.upsert([Point("00000000-0000-0000-0000-000000000001", [1.0, 0.0, 0.0], {"modality": "text"})])
    with pytest.raises(Conflict, match="holds vectors of model 'm2'.*restart the server"):
        service.search("x", collection="other")
    listed = {c.name: c for c in service.collections()}
    assert listed["other"].model == "m2" and listed["other"].count == 1 and listed["t"].count == 19


def test_thumbnails_come_only_from_the_recorded_file(service, folder):
    image = next(h for h in service.search("a red square", collection="t", limit=19, modality="image")
                 if h.path == "red-square.png")
    data = service.thumbnail(image.id, collection="t")
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and max(img.size) <= 256
    text = service.search("a red square", collection="t", limit=1, modality="text")[0]
    with pytest.raises(NotFound, match="no image point"):
        service.thumbnail(text.id, collection="t")
    with pytest.raises(NotFound, match="no image point"):
        service.thumbnail("../../etc/passwd", collection="t")
    other = next(h for h in service.search("x", collection="t", limit=19, modality="image") if h.path == "blue-circle.png")
    draw("green", "cross").save(folder / "blue-circle.png")  # changed since the ingest: not shown
    with pytest.raises(NotFound, match="has changed since it was ingested"):
        service.thumbnail(other.id, collection="t")


def test_a_payload_cannot_point_the_server_outside_its_folder(service, folder, tmp_path):
    secret = tmp_path / "secret.png"
    draw("red", "dot").save(secret)
    for path in ("../secret.png", "/etc/passwd", ""):
        with pytest.raises(NotFound):
            service._stored_file("t", {"root": str(folder), "path": path})
    (folder / "link.png").symlink_to(secret)
    with pytest.raises(NotFound, match="no longer a file inside"):
        service._stored_file("t", {"root": str(folder), "path": "link.png"})
    with pytest.raises(NotFound, match="ingested under the name 'photos'"):
        service._stored_file("t", {"root": "photos", "path": "a.png"})


def test_named_roots_ingested_here_have_thumbnails(tmp_path, service):
    named = make_folder(tmp_path / "named")
    service.ingest(str(named), collection="n", root="shapes")
    hit = service.search("a blue circle", collection="n", limit=1, modality="image")[0]
    assert hit.payload["root"] == "shapes"
    assert service.thumbnail(hit.id, collection="n")[:2] == b"\xff\xd8"


def test_uploads_are_limited_like_an_ingest():
    buf = io.BytesIO()
    draw("red", "square").save(buf, format="PNG")
    assert decode_upload(buf.getvalue(), "q.png").size == (48, 48)
    with pytest.raises(CCLEmbedError, match="over the limit of 10"):
        decode_upload(b"x" * 11, "q.png", max_bytes=10)
    with pytest.raises(CCLEmbedError, match="upload q.png: not a readable image"):
        decode_upload(b"not an image", "../../q.png")
    with pytest.raises(CCLEmbedError, match="over the limit of 100"):
        decode_upload(buf.getvalue(), "q.png", max_pixels=100)
    with pytest.raises(CCLEmbedError, match="empty"):
        decode_upload(b"", "q.png")


def test_closing_interrupts_a_running_ingest_and_keeps_what_it_stored(tmp_path, tiny_model):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(200):
        draw("red", "square").rotate(i).save(big / f"{i}.png")
    service = Service(StoreOptions(store=tmp_path / "store"), model=tiny_model, device="cpu")
    job = service.start_ingest(str(big), batch_size=2)
    while job.done < 4:
        pass
    service.close()
    assert job.status == "interrupted" and job.summary is not None
    assert 0 < job.summary["added"] < 200 and "run the same command again" in (job.error or "")
    with Service(StoreOptions(store=tmp_path / "store"), model=tiny_model, device="cpu") as again:
        assert again.ingest(str(big))["added"] == 200 - job.summary["added"]


@pytest.mark.skipif(not __import__("os").environ.get("QDRANT_URL"), reason="needs a Qdrant server (QDRANT_URL)")
def test_a_service_over_a_qdrant_server(tmp_path, tiny_model, folder):
    import os
    import uuid

    name = f"ccl-serve-{uuid.uuid4().hex[:8]}"
    options = StoreOptions(url=os.environ["QDRANT_URL"], api_key=os.environ.get("QDRANT_API_KEY"))
    with Service(options, model=tiny_model, device="cpu", collection=name) as served:
        try:
            assert served.ingest(str(folder))["added"] == 19
            hit = served.search("a blue circle", limit=1, modality="image")[0]
            assert served.thumbnail(hit.id)[:2] == b"\xff\xd8"
            assert {c.name for c in served.collections()} >= {name}
        finally:
            served.index(name).collection._client.delete_collection(name)  # type: ignore[attr-defined]
