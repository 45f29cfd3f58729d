"""The storage interface behaves the same on every backend."""

from __future__ import annotations

import subprocess
import sys
import uuid

import numpy as np
import pytest

from ccl_embed.store import StoreOptions, open_collection
from ccl_embed.store.base import CollectionMeta, Point, StoreError, check_filter
from ccl_embed.store.edge import EdgeCollection, check_name, list_collections

META = CollectionMeta(model="tiny", model_version="v1", dim=8)


def _points(n: int = 40, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        v = rng.normal(size=8)
        out.append(Point(str(uuid.UUID(int=i + 1)), (v / np.linalg.norm(v)).tolist(),
                         {"modality": "image" if i % 2 else "text", "label": f"l{i % 3}", "path": f"f{i}", "root": "/r"}))
    return out


def test_upsert_query_scan_count_delete(open_backend):
    coll = open_backend(META)
    pts = _points()
    coll.upsert(pts[:25])
    coll.upsert(pts[20:])  # overlapping upsert replaces, never duplicates
    assert coll.count() == 40
    target = np.asarray(pts[7].vector)
    hits = coll.query(target.tolist(), 5)
    assert hits[0].id == pts[7].id and hits[0].score == pytest.approx(1.0, abs=1e-5)
    expected = sorted(pts, key=lambda p: -float(np.dot(p.vector, target)))[:5]
    assert [h.id for h in hits] == [p.id for p in expected]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    only_text = coll.query(target.tolist(), 40, {"modality": "text"})
    assert len(only_text) == 20 and {h.payload["modality"] for h in only_text} == {"text"}
    any_of = coll.query(target.tolist(), 40, {"label": ["l0", "l1"], "modality": "image"})
    expected_ids = {p.id for i, p in enumerate(pts) if i % 2 and i % 3 in (0, 1)}
    assert {h.id for h in any_of} == expected_ids and len(expected_ids) == 14
    scanned = {pid: (payload, vec) for pid, payload, vec in coll.scan(fields=("path",), with_vectors=True)}
    assert set(scanned) == {p.id for p in pts}
    assert scanned[pts[3].id][0] == {"path": "f3"}
    np.testing.assert_allclose(scanned[pts[3].id][1], pts[3].vector, atol=1e-6)
    coll.set_payload(pts[5].id, {"label": "new", "path": None})
    assert next(p for i, p, _ in coll.scan(fields=("label", "path", "modality")) if i == pts[5].id) == {
        "label": "new", "modality": "image"}
    coll.delete([pts[0].id, pts[1].id, str(uuid.UUID(int=999))])
    assert coll.count() == 38 and coll.count({"modality": "text"}) == 19


def test_retrieve_returns_stored_payloads_by_id(open_backend):
    coll = open_backend(META)
    pts = _points(6)
    assert coll.retrieve([pts[0].id]) == {}  # nothing stored yet (an edge collection is not even created)
    coll.upsert(pts)
    got = coll.retrieve([pts[1].id, pts[4].id, str(uuid.UUID(int=999))], ("path", "modality"))
    assert got == {pts[1].id: {"path": "f1", "modality": "image"}, pts[4].id: {"path": "f4", "modality": "text"}}


def test_scan_pages_through_more_than_one_page(open_backend):
    coll = open_backend(META)
    rng = np.random.default_rng(1)
    coll.upsert([Point(str(uuid.UUID(int=i + 1)), rng.normal(size=8).tolist(), {"root": "/r", "path": str(i)})
                 for i in range(2100)])
    assert len({pid for pid, _, _ in coll.scan({"root": "/r"})}) == 2100


def test_another_model_is_refused_before_writing(open_backend):
    coll = open_backend(META, name="m")
    coll.upsert(_points(3))
    if open_backend.backend == "edge":
        coll.close()
    other = CollectionMeta(model="other", model_version="v2", dim=8)
    with pytest.raises(StoreError, match="holds vectors of model 'tiny'.*pass --model tiny"):
        open_backend(other, name="m")
    if open_backend.backend == "edge":
        coll = open_backend(None, name="m")
    assert coll.count() == 3


def test_missing_collection_without_create(open_backend):
    with pytest.raises(StoreError, match="does not exist; ingest something into it first"):
        open_backend(META, name="absent", create=False)


def test_edge_collection_reopens_with_its_points(tmp_path):
    with EdgeCollection(tmp_path, "c", META) as coll:
        coll.upsert(_points(10))
    with EdgeCollection(tmp_path, "c", None) as coll:
        assert coll.count() == 10 and coll.meta == META
    assert list_collections(tmp_path) == ["c"]


def test_edge_second_opener_fails_at_once(tmp_path):
    with EdgeCollection(tmp_path, "c", META) as first:
        first.upsert(_points(1))  # a new collection is created (and locked) by its first write
        with pytest.raises(StoreError, match=r"in use by another ccl-embed process \(pid \d+\)"):
            EdgeCollection(tmp_path, "c", META)
        code = ("import sys; from ccl_embed.store.edge import EdgeCollection\n"
                "try:\n    EdgeCollection(sys.argv[1], 'c', None)\nexcept Exception as e:\n    print(e); sys.exit(3)")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 3 and "in use by another ccl-embed process" in out.stdout
    with EdgeCollection(tmp_path, "c", None) as coll:  # released on close
        assert coll.count() == 1


def test_edge_opener_waits_a_bounded_time_for_a_short_holder(tmp_path, caplog):
    import threading
    import time

    first = EdgeCollection(tmp_path, "c", META)
    first.upsert(_points(2))
    threading.Timer(0.4, first.close).start()  # a short-lived holder: another search, say
    started = time.monotonic()
    with caplog.at_level("INFO", logger="ccl_embed.store.edge"):
        with EdgeCollection(tmp_path, "c", None, wait=10) as coll:
            assert coll.count() == 2
    assert 0.3 < time.monotonic() - started < 5
    assert "is in use by pid" in caplog.text and "waiting up to 10 s" in caplog.text
    with EdgeCollection(tmp_path, "c", None) as held:
        held.count()
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"\(waited 0.3 s\); .*run `ccl-embed serve`"):
            EdgeCollection(tmp_path, "c", None, wait=0.3)
        assert time.monotonic() - started >= 0.3


def test_bad_arguments_fail_with_a_sentence(tmp_path):
    with pytest.raises(StoreError, match="either a store folder.*or a server URL"):
        open_collection("c", META, StoreOptions(store=tmp_path, url="http://localhost:6333"))
    with pytest.raises(StoreError, match="apply to a server"):
        open_collection("c", META, StoreOptions(store=tmp_path, api_key="k"))
    with pytest.raises(StoreError, match="wait=-1"):
        StoreOptions(wait=-1)
    with pytest.raises(StoreError, match="collection name '../x'"):
        check_name("../x")
    with pytest.raises(StoreError, match="filter label=3"):
        check_filter({"label": 3})  # type: ignore[dict-item]
    with pytest.raises(StoreError, match="was not created by ccl-embed"):
        CollectionMeta.from_dict({}, "collection 'x'")


def test_unreachable_server_names_the_url_and_never_the_key():
    with pytest.raises(StoreError) as err, pytest.warns(UserWarning, match="insecure connection"):
        open_collection("c", META, StoreOptions(url="http://127.0.0.1:9", api_key="SECRET-KEY-123"))
    assert "127.0.0.1:9" in str(err.value) and "SECRET-KEY-123" not in str(err.value)
