"""Safe by default, through real HTTP against a server started here: only the server's own names,
no state change from another origin, ingests only with the token (or under --ingest-under)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

import ccl_embed
from ccl_embed.serve.client import ServerError
from ccl_embed.store.record import read_record
from tests.conftest import draw


def _call(url: str, method: str, path: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, dict]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest(method, path, skip_host=True)  # the Host header is the test's to choose
    data = json.dumps(body).encode() if body is not None else b""
    for k, v in {**headers, **({"Content-Type": "application/json"} if body is not None else {}),
                 "Content-Length": str(len(data))}.items():
        conn.putheader(k, v)
    conn.endheaders(data)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    return r.status, (json.loads(raw) if r.getheader("content-type", "").startswith("application/json") else {})


@pytest.fixture()
def picture_folder(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    draw("red", "ring").save(folder / "secret.png")
    (folder / "secret.txt").write_text("the bank password is hunter2")
    return folder


def test_a_rebound_page_can_neither_read_nor_ingest(live, picture_folder):
    port = urllib.parse.urlsplit(live.url).port
    for host in ("evil.example", f"evil.example:{port}", f"localhost.evil.example:{port}", f"127.0.0.1.nip.io:{port}",
                 f"127.0.0.1:{port + 1}"):
        for path in ("/", "/healthz", "/api/search?q=password", "/api/collections", "/static/app.js"):
            status, body = _call(live.url, "GET", path, {"Host": host})
            assert status == 403 and "not one of this server's names" in body["error"], (host, path)
        status, body = _call(live.url, "POST", "/api/ingest", {"Host": host},
                             {"path": str(picture_folder), "collection": "pwn"})
        assert status == 403, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _call(live.url, "GET", "/api/collections", {"Host": host})[0] == 200
    assert "pwn" not in {c.name for c in live.service.collections()}


def test_another_origin_and_a_missing_token_store_nothing(live, picture_folder):
    port = urllib.parse.urlsplit(live.url).port
    own = {"Host": f"127.0.0.1:{port}"}
    request = {"path": str(picture_folder), "collection": "pwn"}
    status, body = _call(live.url, "POST", "/api/ingest", {**own, "Origin": "http://evil.example"}, request)
    assert status == 403 and "Origin" in body["error"]
    status, body = _call(live.url, "POST", "/api/ingest", own, request)  # curl from any local process, no token
    assert status == 403 and "ingest token" in body["error"]
    status, body = _call(live.url, "POST", "/api/ingest", {**own, "X-Ingest-Token": "guess"}, request)
    assert status == 403
    assert "pwn" not in {c.name for c in live.service.collections()}
    with pytest.raises(ServerError, match="ingest token"):  # a client without the token is refused too
        ccl_embed.connect(live.url, token="wrong").ingest(picture_folder, collection="pwn")
    # The user's own tools read the token (the store's record, the user's alone) and ingest unchanged.
    record = read_record(live.store)
    assert record is not None and record.token and (live.store / ".ccl-serve.json").stat().st_mode & 0o777 == 0o600
    status, _ = _call(live.url, "POST", "/api/ingest", {**own, "X-Ingest-Token": record.token}, request)
    assert status == 202
    summary = ccl_embed.connect(live.url).ingest(picture_folder, collection="mine")
    assert summary["added"] == 2
    by_name = live.url.replace("127.0.0.1", "localhost")  # the same server by another of its names
    assert ccl_embed.connect(by_name).ingest(picture_folder, collection="mine")["unchanged"] == 2
