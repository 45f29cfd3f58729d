"""Ingest and search speed: `python benchmarks/ingest.py` -> benchmarks/results/ingest.json.

Measured side by side in one run (this machine is shared and noisy, so ratios are what count):

1. End-to-end `Index.ingest` of real corpus files (walk, hash, decode, embed, upsert, index build)
   against embedding the same files with the runtime alone; rounds alternate between the two.
2. Search latency at 10k and 100k points: a text query, encoding included, on the embedded store
   (qdrant-edge-py) and on qdrant-client's local mode, with the same points. The points beyond the
   ingested files are synthetic unit vectors of the model's width (random vectors are a harder
   case for HNSW than real embeddings), with the same payload fields as ingested items.
3. Reopening the embedded store at each size (open + first query), and local mode's reopen from
   disk at the smaller size (its persistent upserts are too slow to fill 100k here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, RESULTS, versions, write_result  # noqa: E402

from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.embedder import Embedder  # noqa: E402
from ccl_embed.sdk import Index, model_meta  # noqa: E402
from ccl_embed.store.base import Point  # noqa: E402
from ccl_embed.store.client import ClientCollection  # noqa: E402
from ccl_embed.store.edge import EdgeCollection  # noqa: E402

QUERIES = ["a red apple", "a smiling face", "a dog", "a car on a road", "a musical instrument", "weather: rain",
           "a flag", "a building", "food and drink", "a hand gesture", "a tool for cutting", "a flower",
           "sports ball", "a cat", "a clock showing time", "a heart", "a vehicle", "a bird", "a tree", "the moon"]


def sample_folder(corpus: Path, n: int, out: Path) -> Path:
    """A folder of n image-text pairs copied from a built corpus (images plus a pairs.jsonl)."""
    lines = [json.loads(x) for x in (corpus / "pairs.jsonl").read_text().splitlines() if x.strip()]
    rng = np.random.default_rng(0)
    chosen = [lines[i] for i in sorted(rng.choice(len(lines), size=min(n, len(lines)), replace=False))]
    out.mkdir(parents=True)
    records = []
    for i, rec in enumerate(chosen):
        src = corpus / rec["image"]
        dst = f"img/{i:05d}{src.suffix}"
        (out / dst).parent.mkdir(exist_ok=True)
        shutil.copyfile(src, out / dst)
        records.append(json.dumps({"image": dst, "text": rec["text"], "label": rec.get("label")}))
    (out / "pairs.jsonl").write_text("\n".join(records) + "\n")
    return out


def embed_only(embedder: Embedder, folder: Path) -> tuple[int, float]:
    lines = [json.loads(x) for x in (folder / "pairs.jsonl").read_text().splitlines()]
    t = time.perf_counter()
    n = sum(1 for r in embedder.embed_images([folder / rec["image"] for rec in lines], batch_size=32) if r.ok)
    n += sum(1 for r in embedder.embed_texts([rec["text"] for rec in lines], batch_size=32) if r.ok)
    return n, time.perf_counter() - t


def ingest_once(embedder: Embedder, folder: Path, store: Path) -> tuple[int, float]:
    t = time.perf_counter()
    coll = EdgeCollection(store, "bench", model_meta(embedder.model))
    with Index(coll, embedder) as index:
        summary = index.ingest(folder)
    return summary.added, time.perf_counter() - t


def fill(coll, n_from: int, n_to: int, dim: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for start in range(n_from, n_to, 512):
        stop = min(start + 512, n_to)
        vecs = rng.normal(size=(stop - start, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        coll.upsert([Point(str(uuid.UUID(int=i + 1)), v.tolist(),
                           {"modality": "image" if i % 2 else "text", "path": f"synthetic/{i}", "root": "/synthetic",
                            "label": f"l{i % 50}", "sha256": f"{i:064x}"}) for i, v in zip(range(start, stop), vecs)])
    return time.perf_counter() - t


def latencies(embedder: Embedder, coll, rounds: int) -> dict[str, float]:
    index = Index(coll, embedder)
    index.search(QUERIES[0], limit=10)  # warm-up
    times = []
    for i in range(rounds):
        t = time.perf_counter()
        index.search(QUERIES[i % len(QUERIES)], limit=10)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 2),
            "queries": rounds}


def encode_only(embedder: Embedder, rounds: int) -> float:
    times = []
    for i in range(rounds):
        t = time.perf_counter()
        next(embedder.embed_texts([QUERIES[i % len(QUERIES)]]))
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def write_markdown(result: dict) -> Path:
    """docs/ingest_results.md from a result record (so the docs quote the measured file, not a hand)."""
    ing, t = result["ingest"], result["targets"]
    lines = ["# Ingest and search speed (generated)", "",
             f"Written by `{result['command']}` at {result['written_at']} on {result['machine']['cpu']} "
             f"({result['machine']['cores']} cores); `python benchmarks/ingest.py --tables-only` rewrites this page "
             "from `benchmarks/results/ingest.json`. Versions: "
             + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".", "",
             "## Ingest against embedding alone (same files, alternating rounds)", "",
             "| items | embed only, items/s | ingest end to end, items/s | storage overhead | target |", "|---|---|---|---|---|",
             f"| {ing['items']} | {ing['embed_per_s']} | {ing['ingest_per_s']} | {ing['storage_overhead']:.1%} | <= 10% |", "",
             "## Search latency, text query with its encoding (ms)", "",
             f"Encoding a text query alone: p50 {result['query_encoding_p50_ms']} ms.", "",
             "| points | embedded p50 | embedded p99 | local mode p50 | local mode p99 | embedded faster by | "
             "embedded reopen (s) | HNSW build (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in result["search"]:
        lines.append(f"| {r['points']:,} | {r['edge']['p50_ms']} | {r['edge']['p99_ms']} | {r['local']['p50_ms']} | "
                     f"{r['local']['p99_ms']} | {r['edge_vs_local_p50']}x | {r['edge_reopen_s']} | {r['edge_optimize_s']} |")
    disk = result["local_mode_on_disk"]
    lines += ["", f"qdrant-client local mode on disk, {disk['points']:,} points: {disk['upsert_per_s']} upserts/s, "
              f"reopen {disk['reopen_s']} s.", "", "## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|",
              f"| embedded p50 at the largest size (ms) | <= {t['p50_ms_at_largest_embedded']['target']} | "
              f"{t['p50_ms_at_largest_embedded']['measured']} | {'yes' if t['p50_ms_at_largest_embedded']['measured'] <= t['p50_ms_at_largest_embedded']['target'] else 'no'} |",
              f"| embedded vs local mode p50 | >= {t['edge_vs_local_p50_at_largest']['target']}x | "
              f"{t['edge_vs_local_p50_at_largest']['measured']}x | {'yes' if t['edge_vs_local_p50_at_largest']['measured'] >= t['edge_vs_local_p50_at_largest']['target'] else 'no'} |",
              f"| storage overhead | <= {t['storage_overhead']['target']:.0%} | {t['storage_overhead']['measured']:.1%} | "
              f"{'yes' if t['storage_overhead']['measured'] <= t['storage_overhead']['target'] else 'no'} |", ""]
    path = DOCS / "ingest_results.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=cache_dir() / "corpus", help="a built corpus (ccl-embed data build)")
    ap.add_argument("--pairs", type=int, default=300, help="pairs ingested (images + texts = twice this)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of embed-only and ingest")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tables-only", action="store_true", help="only rewrite docs/ingest_results.md from the results file")
    args = ap.parse_args()
    if args.tables_only:
        print("wrote", write_markdown(json.loads((RESULTS / "ingest.json").read_text())))
        return
    if not (args.corpus / "pairs.jsonl").is_file():
        sys.exit(f"{args.corpus}: no corpus; build one with `ccl-embed data build` or pass --corpus")
    embedder = Embedder("default", device="cpu", threads=args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="ccl-bench-"))
    try:
        folder = sample_folder(args.corpus, args.pairs, tmp / "folder")
        embed_only(embedder, folder)  # warm-up: sessions, page cache
        rows = []
        for r in range(args.rounds):
            n_e, t_e = embed_only(embedder, folder)
            n_i, t_i = ingest_once(embedder, folder, tmp / f"store-{r}")
            rows.append({"embed_items": n_e, "embed_s": round(t_e, 2), "ingest_items": n_i, "ingest_s": round(t_i, 2),
                         "embed_per_s": round(n_e / t_e, 1), "ingest_per_s": round(n_i / t_i, 1)})
            print(rows[-1], flush=True)
        embed_rate = sum(r["embed_items"] for r in rows) / sum(r["embed_s"] for r in rows)
        ingest_rate = sum(r["ingest_items"] for r in rows) / sum(r["ingest_s"] for r in rows)
        result: dict[str, object] = {
            "versions": versions("ccl-embed", "onnxruntime", "qdrant-edge-py", "qdrant-client", "numpy"),
            "ingest": {"items": rows[0]["ingest_items"], "rounds": rows, "embed_per_s": round(embed_rate, 1),
                       "ingest_per_s": round(ingest_rate, 1),
                       "storage_overhead": round(1 - ingest_rate / embed_rate, 3), "target_overhead": 0.10},
            "query_encoding_p50_ms": encode_only(embedder, args.queries),
        }
        search: list[dict[str, Any]] = []
        dim = embedder.dim
        edge = EdgeCollection(tmp / "scale", "scale", model_meta(embedder.model))
        from qdrant_client import QdrantClient

        local = ClientCollection("scale", model_meta(embedder.model), client=QdrantClient(location=":memory:"))
        have = 0
        for size in sorted(args.sizes):
            fill_edge = fill(edge, have, size, dim, seed=size)
            fill_local = fill(local, have, size, dim, seed=size)
            t = time.perf_counter()
            edge.optimize()
            optimize_s = time.perf_counter() - t
            have = size
            row = {"points": size, "edge_upsert_per_s": round((size - (search[-1]["points"] if search else 0)) / fill_edge),
                   "local_upsert_per_s": round((size - (search[-1]["points"] if search else 0)) / fill_local),
                   "edge_optimize_s": round(optimize_s, 2),
                   "edge": latencies(embedder, edge, args.queries), "local": latencies(embedder, local, max(20, args.queries // 4))}
            edge.close()
            t = time.perf_counter()
            edge = EdgeCollection(tmp / "scale", "scale", None)
            edge.query(np.ones(dim, dtype=np.float32).tolist(), 1)
            row["edge_reopen_s"] = round(time.perf_counter() - t, 3)
            row["edge_vs_local_p50"] = round(row["local"]["p50_ms"] / row["edge"]["p50_ms"], 1)
            search.append(row)
            print(row, flush=True)
        edge.close()
        local.close()
        # local mode's own reopen, from disk, at the smallest size
        small = min(args.sizes)
        disk = ClientCollection("scale", model_meta(embedder.model), path=str(tmp / "local-disk"))
        t = time.perf_counter()
        fill(disk, 0, small, dim, seed=small)
        local_disk_upsert = small / (time.perf_counter() - t)
        disk.close()
        t = time.perf_counter()
        disk = ClientCollection("scale", None, path=str(tmp / "local-disk"))
        disk.query(np.ones(dim, dtype=np.float32).tolist(), 1)
        local_reopen = time.perf_counter() - t
        disk.close()
        result["search"] = search
        result["local_mode_on_disk"] = {"points": small, "upsert_per_s": round(local_disk_upsert), "reopen_s": round(local_reopen, 2)}
        big = search[-1]
        result["targets"] = {"p50_ms_at_largest_embedded": {"target": 25, "measured": big["edge"]["p50_ms"]},
                             "edge_vs_local_p50_at_largest": {"target": 10, "measured": big["edge_vs_local_p50"]},
                             "storage_overhead": {"target": 0.10, "measured": result["ingest"]["storage_overhead"]}}  # type: ignore[index]
        print(json.dumps(result["targets"], indent=1))
        path = write_result("ingest", result)
        print("wrote", path, write_markdown(json.loads(path.read_text())))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
