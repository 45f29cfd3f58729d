"""The Ray engine equals a plain ingest: ids, payloads, vectors to 1e-6, skip reasons; a re-run is
unchanged; a worker killed mid-run is restarted and its batch retried. On a local Ray of 2 CPUs."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

import ccl_embed
from ccl_embed.ingest.distributed import EmbedWorker, RayOptions, Sink
from ccl_embed.errors import CCLEmbedError
from tests.conftest import draw, make_folder

ray = pytest.importorskip("ray", reason="the distributed extra (ray[data]) is not installed")
pytestmark = pytest.mark.distributed

FIELDS = ("modality", "path", "root", "sha256", "label", "pairs", "text", "model", "model_version")


@pytest.fixture(scope="module")
def local_ray():
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture()
def folder(tmp_path):
    root = make_folder(tmp_path / "f")
    more = root / "more"
    more.mkdir()
    for i in range(14):
        draw(("red", "green", "blue", "yellow")[i % 4], ("ring", "cross", "dot")[i % 3]).rotate(7 * i).save(more / f"{i}.png")
    (more / "broken.png").write_bytes(b"\x89PNG not really")
    (more / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (more / "empty.txt").write_text("  \n")
    return root


def _state(index) -> dict[str, tuple[dict, np.ndarray]]:
    return {pid: (payload, np.asarray(vec)) for pid, payload, vec in index.collection.scan(None, FIELDS, with_vectors=True)}


def _same(a, b) -> None:
    assert a.keys() == b.keys() and len(a) > 0
    for pid in a:
        assert a[pid][0] == b[pid][0], pid
        np.testing.assert_allclose(a[pid][1], b[pid][1], atol=1e-6)


@pytest.fixture()
def plain(tmp_path, tiny_model, folder):
    with ccl_embed.open("c", store=tmp_path / "plain", model=tiny_model, device="cpu") as index:
        summary = index.ingest(folder, batch_size=4).to_dict()
        return summary, _state(index)


def test_ray_ingest_equals_a_plain_ingest_and_reruns_unchanged(tmp_path, tiny_model, folder, plain, local_ray):
    want_summary, want = plain
    options = RayOptions(workers=2, device="cpu")
    with ccl_embed.open("c", store=tmp_path / "ray", model=tiny_model, device="cpu") as index:
        summary = index.ingest(folder, batch_size=4, engine="ray", ray=options).to_dict()
        got = _state(index)
        again = index.ingest(folder, batch_size=4, engine="ray", ray=options).to_dict()
    workers = summary.pop("workers")
    assert summary == want_summary  # the same counts, and every skip reason, in the same order
    assert [s["path"] for s in summary["skipped"]] == ["more/broken.png", "more/empty.txt", "more/latin1.txt"]
    _same(got, want)
    assert sum(w["items"] for w in workers.values()) == want_summary["added"] + 3
    assert all(w["items_per_s"] and w["items_per_s"] > 0 for w in workers.values())
    assert again["added"] == 0 and again["unchanged"] == want_summary["added"]
    assert again["skipped"] == summary["skipped"]  # the bad files are walked, tried and reported again


def test_the_cli_runs_the_ray_engine_and_prunes(tmp_path, tiny_model, folder, plain, local_ray):
    import json

    from typer.testing import CliRunner

    from ccl_embed.cli import app

    store = tmp_path / "cli"
    args = ["ingest", str(folder), "--store", str(store), "-c", "c", "--model", str(tiny_model), "--device", "cpu",
            "--engine", "ray", "--workers", "2", "--batch-size", "4", "--json", "-q"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1, first.output  # the three bad files are skipped, as in a plain ingest
    out = json.loads(first.stdout)
    assert set(out) == set(plain[0]) | {"collection", "points", "workers"} and out["points"] == plain[0]["added"]
    (folder / "red-square.png").unlink()
    second = CliRunner().invoke(app, [*args, "--prune"])
    pruned = json.loads(second.stdout)
    assert pruned["pruned"] == 1 and pruned["added"] == 0 and pruned["points"] == plain[0]["added"] - 1
    wrong = CliRunner().invoke(app, ["ingest", str(folder), "--store", str(store), "--workers", "2"])
    assert wrong.exit_code == 2 and "need --engine ray" in wrong.output


def test_a_killed_worker_is_restarted_and_its_batch_retried(tmp_path, tiny_model, folder, plain, local_ray):
    flag = tmp_path / "died-once"

    class DiesOnce(EmbedWorker):  # defined here, so Ray ships it by value
        def __call__(self, batch):
            if not flag.exists():
                flag.write_text(str(os.getpid()))
                os._exit(1)  # the worker process dies mid-run, as with kill -9
            return super().__call__(batch)

    with ccl_embed.open("c", store=tmp_path / "ray", model=tiny_model, device="cpu") as index:
        coll = index.collection
        from ccl_embed.ingest.distributed import ingest_ray

        summary = ingest_ray(folder, coll, tiny_model, options=RayOptions(workers=1, device="cpu", batch_size=4),
                             worker_class=DiesOnce).to_dict()
        got = _state(index)
    assert flag.exists()
    summary.pop("workers")
    assert summary == plain[0]
    _same(got, plain[1])


def test_a_worker_writes_to_a_server_collection_itself(tmp_path, tiny_model, folder):
    """The server sink's path, without Ray: the worker upserts and hands back ids only."""
    import pickle

    from qdrant_client import QdrantClient

    from ccl_embed.ingest.pipeline import plan_ingest
    from ccl_embed.sdk import model_meta
    from ccl_embed.store.client import ClientCollection

    worker_meta = None
    with ccl_embed.open("c", store=tmp_path / "plain", model=tiny_model, device="cpu") as index:
        worker_meta = model_meta(index.embedder.model)
        plan = plan_ingest(folder, index.collection)
        index.ingest(folder)
        want = _state(index)
    worker = EmbedWorker(str(tiny_model), "cpu", vars(worker_meta), plan.key, None, cpus=3)
    assert worker.decoders == 3  # an actor given three CPUs decodes a batch on three threads
    client = QdrantClient(location=":memory:")
    worker.sink = ClientCollection("c", worker_meta, client=client, create=True)
    rows = worker({"item": np.array([pickle.dumps(p) for p in plan.pending], dtype=object)})
    added = [pid for pid, kind in zip(rows["id"], rows["kind"]) if kind == "added"]
    assert set(added) == set(want) and all(v == b"" for v in rows["vector"])  # nothing sent back but ids
    stored = {pid: (payload, np.asarray(vec)) for pid, payload, vec in worker.sink.scan(None, FIELDS, with_vectors=True)}
    _same(stored, want)
    assert sorted(p for p, k in zip(rows["path"], rows["kind"]) if k == "skipped") == [
        "more/broken.png", "more/empty.txt", "more/latin1.txt"]


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="needs a Qdrant server (QDRANT_URL)")
def test_ray_workers_upsert_to_a_server(tmp_path, tiny_model, folder, plain, local_ray):
    name = f"ccl-ray-{uuid.uuid4().hex[:8]}"
    url, key = os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY")
    with ccl_embed.open(name, url=url, api_key=key, model=tiny_model, device="cpu") as index:
        try:
            summary = index.ingest(folder, batch_size=4, engine="ray", ray=RayOptions(workers=2, device="cpu")).to_dict()
            got = _state(index)
        finally:
            index.collection._client.delete_collection(name)  # type: ignore[attr-defined]
    summary.pop("workers")
    assert summary == plain[0]
    _same(got, plain[1])


def test_bad_ray_options_say_which(tmp_path, tiny_model):
    with pytest.raises(CCLEmbedError, match="workers=0"):
        RayOptions(workers=0)
    with pytest.raises(CCLEmbedError, match="gpus_per_worker=-1"):
        RayOptions(gpus_per_worker=-1)
    with ccl_embed.open("c", store=tmp_path / "s", model=tiny_model, device="cpu") as index:
        with pytest.raises(CCLEmbedError, match="engine='spark'"):
            index.ingest(tmp_path, engine="spark")
        with pytest.raises(CCLEmbedError, match="pass engine='ray' too"):
            index.ingest(tmp_path, ray=RayOptions())
    assert Sink("http://q:6333", "c").api_key is None
