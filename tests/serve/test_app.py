"""The HTTP contract of ccl-embed serve, through FastAPI's test client."""

from __future__ import annotations

import io
import time

import pytest

from ccl_embed.serve.app import create_app
from tests.conftest import draw

testclient = pytest.importorskip("fastapi.testclient")


TOKEN = "this-runs-ingest-token"


def local(app, **kwargs):
    """A test client that calls as the user's own tools do: to 127.0.0.1."""
    return testclient.TestClient(app, base_url="http://127.0.0.1", **kwargs)


@pytest.fixture()
def client(service):
    with local(create_app(service, ingest_token=TOKEN), headers={"X-Ingest-Token": TOKEN}) as c:
        yield c


def _png(colour: str = "red", shape: str = "square") -> bytes:
    buf = io.BytesIO()
    draw(colour, shape).save(buf, format="PNG")
    return buf.getvalue()


def test_health_search_and_collections(client, service):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["model"] == "tiny" and health.json()["collection"] == "t"
    r = client.get("/api/search", params={"q": "a red square", "limit": 5})
    assert r.status_code == 200
    hits = r.json()["hits"]
    expected = service.search("a red square", limit=5)
    assert [h["id"] for h in hits] == [h.id for h in expected]  # the order the SDK gives
    assert set(hits[0]) >= {"score", "modality", "path", "text", "label", "id"}
    only = client.get("/api/search", params={"q": "a shape", "limit": 19, "filter": "label:yellow", "modality": "image"})
    assert [h["path"] for h in only.json()["hits"]] == ["labelled/square.png"]
    listed = client.get("/api/collections").json()["collections"]
    assert listed == [{"name": "t", "count": 19, "model": "tiny", "dim": service.meta.dim, "error": None}]
    assert "/api/search" in client.get("/openapi.json").json()["paths"]


def test_search_by_an_uploaded_image(client):
    r = client.post("/api/search", params={"limit": 1, "modality": "image"},
                    files={"image": ("q.png", _png("blue", "circle"), "image/png")})
    assert r.status_code == 200 and r.json()["hits"][0]["path"] == "blue-circle.png"
    assert r.json()["hits"][0]["score"] == pytest.approx(1.0, abs=1e-4)
    bad = client.post("/api/search", files={"image": ("q.png", b"not an image", "image/png")})
    assert bad.status_code == 400 and bad.json() == {"error": bad.json()["error"]}
    assert "upload q.png: not a readable image" in bad.json()["error"]


def test_uploads_over_the_limit_are_refused(service):
    with local(create_app(service, max_upload_bytes=100)) as c:
        r = c.post("/api/search", files={"image": ("q.png", _png(), "image/png")})
        assert r.status_code == 400 and "over the limit of 100" in r.json()["error"]
        # A body far over the limit is refused as it arrives, by its length or by counting.
        huge = b"x" * (200 << 10)
        r = c.post("/api/search", files={"image": ("q.png", huge, "image/png")})
        assert r.status_code == 413 and "over the limit of" in r.json()["error"]

        def chunks():
            for _ in range(8):
                yield b"y" * (32 << 10)

        r = c.post("/api/search", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413 and list(r.json()) == ["error"]


def test_ingest_in_the_background_then_its_summary(client, tmp_path):
    folder = tmp_path / "more"
    folder.mkdir()
    for i, colour in enumerate(("red", "green", "blue")):
        draw(colour, "ring").save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    r = client.post("/api/ingest", json={"path": str(folder), "collection": "more"})
    assert r.status_code == 202
    job = r.json()
    while job["status"] in ("queued", "running"):
        time.sleep(0.05)
        job = client.get(f"/api/ingest/{job['id']}").json()
    assert job["status"] == "done" and job["done"] == 4 and job["total"] == 4
    summary = job["summary"]
    assert summary["added"] == 3 and summary["points"] == 3 and summary["collection"] == "more"
    assert [s["path"] for s in summary["skipped"]] == ["broken.png"]
    names = {c["name"]: c["count"] for c in client.get("/api/collections").json()["collections"]}
    assert names == {"t": 19, "more": 3}


def test_errors_are_one_line_json(client, tmp_path):
    cases = [
        (client.get("/api/search", params={"q": "x", "limit": 0}), 422, "limit"),
        (client.get("/api/search", params={"q": "x", "modality": "video"}), 422, "modality"),
        (client.get("/api/search"), 400, "give q=TEXT or like=ID"),
        (client.get("/api/search", params={"q": "x", "filter": "label"}), 400, "write it as FIELD:VALUE"),
        (client.get("/api/search", params={"q": "x", "filter": "colour:red"}), 400, "filter field 'colour'"),
        (client.get("/api/search", params={"q": "x", "collection": "nope"}), 404, "does not exist"),
        (client.post("/api/ingest", json={"path": "rel"}), 400, "absolute path"),
        (client.post("/api/ingest", json={"path": str(tmp_path / "gone")}), 404, "no such folder"),
        (client.post("/api/ingest", json={"path": str(tmp_path), "delete": True}), 400, "unknown ingest field 'delete'"),
        (client.post("/api/ingest", json={"path": str(tmp_path), "prune": "yes"}), 400, "prune='yes'"),
        (client.get("/api/ingest/abc"), 404, "not known"),
        (client.get("/api/items/xyz/thumbnail"), 404, "no image point"),
        (client.get("/nowhere"), 404, "Not Found"),
    ]
    for r, status, text in cases:
        assert r.status_code == status, (r.request.url, r.text)
        body = r.json()
        assert list(body) == ["error"] and text in body["error"] and "\n" not in body["error"], body
        assert "Traceback" not in r.text


def test_thumbnail_of_a_stored_image(client, service):
    hit = service.search("a green bar", limit=1, modality="image")[0]
    r = client.get(f"/api/items/{hit.id}/thumbnail")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"


def test_the_api_key_is_checked_on_every_api_call(service):
    with local(create_app(service, api_key="s3cret")) as c:
        assert c.get("/healthz").status_code == 200
        for r in (c.get("/api/search", params={"q": "x"}), c.get("/api/collections"),
                  c.post("/api/ingest", json={"path": "/tmp"}), c.get("/api/ingest/x"),
                  c.get("/api/search", params={"q": "x"}, headers={"Authorization": "Bearer wrong"})):
            assert r.status_code == 401 and "API key" in r.json()["error"] and "s3cret" not in r.text
        assert c.get("/api/collections", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/collections", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_cors_is_off_unless_asked(service):
    origin = {"Origin": "http://elsewhere.example"}
    with local(create_app(service)) as c:
        assert "access-control-allow-origin" not in c.get("/api/collections", headers=origin).headers
    with local(create_app(service, cors_origins=("http://elsewhere.example",))) as c:
        r = c.get("/api/collections", headers=origin)
        assert r.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_the_page_and_its_files_ship_in_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text and "http" not in page.text.replace("http-equiv", "")
    for name in ("app.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and "https://" not in r.text  # no CDN


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "127.0.0.1:8701",
                                  "localhost:8700@evil.example", "", "[::1", "a:b:c"])
def test_a_foreign_host_is_refused_on_every_path(service, host):
    with local(create_app(service, port=8700, ingest_token=TOKEN)) as c:
        for path in ("/", "/healthz", "/api/search?q=x", "/api/collections", "/static/app.js"):
            r = c.get(path, headers={"Host": host})
            assert r.status_code == 403 and "is not one of this server's names" in r.json()["error"], (path, host)
        r = c.post("/api/ingest", json={"path": "/tmp"}, headers={"Host": host, "X-Ingest-Token": TOKEN})
        assert r.status_code == 403 and "Host" in r.json()["error"]


@pytest.mark.parametrize("host", ["localhost:8700", "127.0.0.1:8700", "[::1]:8700", "LOCALHOST:8700", "127.0.0.1",
                                  "my-box.lan:8700"])
def test_the_servers_own_names_are_answered(service, host):
    with local(create_app(service, port=8700, hosts=("my-box.lan",))) as c:
        for path in ("/", "/healthz", "/api/collections"):
            assert c.get(path, headers={"Host": host}).status_code == 200, (path, host)


def test_a_foreign_origin_may_not_change_anything(service, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    draw("red", "ring").save(folder / "a.png")
    with local(create_app(service, port=8700, ingest_token=TOKEN), headers={"X-Ingest-Token": TOKEN}) as c:
        for origin in ("http://evil.example", "null", "http://127.0.0.1:9999", "http://localhost.evil.example:8700"):
            r = c.post("/api/ingest", json={"path": str(folder), "collection": "pwn"}, headers={"Origin": origin})
            assert r.status_code == 403 and "Origin" in r.json()["error"], origin
            r = c.post("/api/search", files={"image": ("q.png", _png(), "image/png")}, headers={"Origin": origin})
            assert r.status_code == 403, origin
        assert "pwn" not in {x.name for x in service.collections()}  # a refused ingest stores nothing
        own = c.post("/api/search", files={"image": ("q.png", _png(), "image/png")},
                     headers={"Origin": "http://127.0.0.1:8700"})
        assert own.status_code == 200
        assert c.get("/api/collections", headers={"Origin": "http://evil.example"}).status_code == 200  # reads stay open
    with local(create_app(service, port=8700, cors_origins=("http://app.example",))) as c:
        r = c.post("/api/search", files={"image": ("q.png", _png(), "image/png")}, headers={"Origin": "http://app.example"})
        assert r.status_code == 200


def test_an_ingest_needs_the_token_or_the_fence(tmp_path, tiny_model):
    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions

    folder = tmp_path / "photos"
    (folder / "inside").mkdir(parents=True)
    draw("red", "ring").save(folder / "a.png")
    draw("blue", "bar").save(folder / "inside" / "b.png")
    with Service(StoreOptions(store=tmp_path / "store"), model=str(tiny_model), collection="t",
                 ingest_under=[folder / "inside"]) as fenced, local(create_app(fenced, ingest_token=TOKEN)) as c:
        for headers in ({}, {"X-Ingest-Token": "guess"}):
            r = c.post("/api/ingest", json={"path": str(folder / "inside"), "follow_links_outside": True}, headers=headers)
            assert r.status_code == 403 and "ingest token" in r.json()["error"]
        inside = c.post("/api/ingest", json={"path": str(folder / "inside")})  # under the fence: no token needed
        assert inside.status_code == 202
        outside = c.post("/api/ingest", json={"path": str(folder)}, headers={"X-Ingest-Token": TOKEN})
        assert outside.status_code == 403 and "outside the folders" in outside.json()["error"]
    with Service(StoreOptions(store=tmp_path / "store2"), model=str(tiny_model), collection="t") as open_, \
            local(create_app(open_, ingest_token=TOKEN)) as c:
        refused = c.post("/api/ingest", json={"path": str(folder)})
        assert refused.status_code == 403 and "ingest token" in refused.json()["error"] and TOKEN not in refused.text
        assert c.post("/api/ingest", json={"path": str(folder)}, headers={"X-Ingest-Token": TOKEN}).status_code == 202
    with Service(StoreOptions(store=tmp_path / "store3"), model=str(tiny_model), collection="t") as keyed, \
            local(create_app(keyed, api_key="s3cret", ingest_token=TOKEN)) as c:
        r = c.post("/api/ingest", json={"path": str(folder)}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 202


def test_an_item_and_its_whole_image(client, service, folder):
    hit = service.search("a green bar", limit=1, modality="image")[0]
    item = client.get(f"/api/items/{hit.id}").json()
    assert item["id"] == hit.id and item["path"] == hit.path and item["modality"] == "image"
    assert item["root"] == str(folder.resolve()) and set(item) >= {"text", "label", "pairs"}
    whole = client.get(f"/api/items/{hit.id}/image")
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/png"
    assert whole.content == (folder / hit.path).read_bytes()  # the file itself, not a re-encoding
    (folder / hit.path).write_bytes(_png("blue", "ring"))  # changed since the ingest: not shown
    assert client.get(f"/api/items/{hit.id}/image").status_code == 404
    for bad in ("../../etc/passwd", "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        r = client.get(f"/api/items/{bad}")
        assert r.status_code == 404 and list(r.json()) == ["error"], bad


def test_more_like_a_stored_item_over_http(client, service):
    hit = service.search("a green bar", limit=1, modality="image")[0]
    r = client.get("/api/search", params={"like": hit.id, "limit": 3})
    assert r.status_code == 200 and len(r.json()["hits"]) == 3 and hit.id not in {h["id"] for h in r.json()["hits"]}
    for params in ({}, {"q": "x", "like": hit.id}):
        bad = client.get("/api/search", params=params)
        assert bad.status_code == 400 and "q=TEXT or like=ID" in bad.json()["error"]


def test_pages_by_offset_and_the_labels_over_http(client, service):
    full = [h.id for h in service.search("a blue circle", limit=15)]
    pages = [client.get("/api/search", params={"q": "a blue circle", "limit": 5, "offset": o}).json()["hits"]
             for o in (0, 5, 10)]
    assert [h["id"] for page in pages for h in page] == full
    assert client.get("/api/search", params={"q": "x", "offset": -1}).status_code == 422
    r = client.get("/api/labels")
    assert r.status_code == 200 and r.json() == {"labels": [{"name": k, "count": v} for k, v in service.labels().items()]}
    assert service.labels() == {"green": 2, "red": 2, "yellow": 2}


def test_an_uploaded_image_leads_a_mixed_search_of_a_calibrated_model(tmp_path, tiny_model, folder):
    """The image itself first, at relevance 1, even where its pair's spread is broad (as the
    shipped model's image:image is) and captions' narrow: the tent.png case of a mixed search."""
    import shutil
    from dataclasses import replace

    from ccl_embed.runtime.manifest import read_manifest, write_manifest
    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions

    model = tmp_path / "calibrated"
    shutil.copytree(tiny_model, model)
    calibration = {"image:image": (0.5, 0.4), "image:text": (0.0, 0.05), "text:image": (0.0, 0.05),
                   "text:text": (1.0, 0.003)}
    write_manifest(model, replace(read_manifest(model), calibration=calibration))
    with Service(StoreOptions(store=tmp_path / "s"), model=model, device="cpu", collection="t") as service:
        service.ingest(str(folder))
        with local(create_app(service)) as c:
            r = c.post("/api/search", params={"limit": 2}, files={"image": ("q.png", _png("blue", "circle"), "image/png")})
    hits = r.json()["hits"]
    assert r.status_code == 200 and hits[0]["path"] == "blue-circle.png" and hits[0]["relevance"] == 1.0
    assert hits[1]["relevance"] < 1.0 and hits[1]["modality"] == "text"  # a mixed list
