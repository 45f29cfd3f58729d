"""Load and reliability of `ccl-embed serve`: `python benchmarks/serve.py` -> benchmarks/results/serve.json.

1. A clean run: `ccl-embed ingest` of a folder of 2,000 files (made here, deterministically: 1,500
   drawn images and 500 captions), no server, into its own store. This is the reference.
2. Under load: `ccl-embed serve` is started as a user starts it; the same folder is ingested through
   it while 8 clients (threads of this process, through ``ccl_embed.connect``) search for 30 s,
   alternating text queries and uploaded image queries. Every request's latency is kept; p50, p95
   and p99 are reported for text and image queries, during the ingest and after it, with the number
   of failed requests (which must be 0). The served store must equal the clean run's: the same ids,
   payloads and vectors (to 1e-6).
3. Killed: a new server starts the same ingest and is killed with SIGKILL part way through; a new
   server is started on the same store and the same ingest is run again. The store must again
   equal the clean run's.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402
from _files import compare, folder_arguments, make_folder, points_of  # noqa: E402

import ccl_embed  # noqa: E402
from ccl_embed.store.record import served_at  # noqa: E402

CLI = [sys.executable, "-m", "ccl_embed.cli"]
QUERIES = ["a red circle", "a blue square", "a green triangle", "a yellow star", "a purple ring", "an orange bar",
           "a black shape on white", "a brown square", "two circles", "a striped pattern"]


def start_server(store: Path, env: dict[str, str], model: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([*CLI, "serve", "--store", str(store), "--port", "0", "--model", model, "-c", "bench"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        record = served_at(store, wait=1) if (store / ".ccl-serve.json").exists() else None
        if record is not None:
            return proc, record.url
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("serve did not start within 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ms = np.asarray(values) * 1000
    return {"n": len(values), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1)}


def load(url: str, folder: Path, clients: int, seconds: float, image_queries: list[bytes]) -> dict[str, Any]:
    """Start the ingest through the server, then search with ``clients`` threads for ``seconds``."""
    server = ccl_embed.connect(url, collection="bench", timeout=60)
    records: list[tuple[str, float, float, str | None]] = []  # kind, start, latency, error
    lock = threading.Lock()
    job = server.start_ingest(folder, batch_size=32)
    ingest_start = time.monotonic()
    end = ingest_start + seconds

    def client(k: int) -> None:
        rng = random.Random(k)
        i = 0
        while time.monotonic() < end:
            kind = "text" if i % 2 == 0 else "image"
            i += 1
            t0 = time.monotonic()
            error = None
            try:
                if kind == "text":
                    server.search(rng.choice(QUERIES), limit=10)
                else:
                    server.search(Image.open(io.BytesIO(rng.choice(image_queries))), limit=10)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                error = f"{type(e).__name__}: {e}"
            with lock:
                records.append((kind, t0, time.monotonic() - t0, error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    ingest_end = None
    while True:
        state = server.job(job["id"])
        if state["status"] not in ("queued", "running") and ingest_end is None:
            ingest_end = time.monotonic()
        if ingest_end is not None and time.monotonic() >= end:
            break
        time.sleep(0.2)
    for t in threads:
        t.join()
    during = [r for r in records if r[1] < ingest_end]
    after = [r for r in records if r[1] >= ingest_end]
    failures = [r[3] for r in records if r[3]]
    return {
        "clients": clients, "seconds": seconds, "requests": len(records), "failed_requests": len(failures),
        "failures_first": failures[:5], "requests_per_s": round(len(records) / (max(r[1] + r[2] for r in records) - ingest_start), 2),
        "ingest": {"status": state["status"], "seconds": round(ingest_end - ingest_start, 2),
                   "items_per_s_under_load": state.get("rate"), "summary": {k: (len(v) if isinstance(v, list) else v)
                                                                           for k, v in (state["summary"] or {}).items()}},
        "latency": {
            "text_during_ingest": percentiles([r[2] for r in during if r[0] == "text" and not r[3]]),
            "image_during_ingest": percentiles([r[2] for r in during if r[0] == "image" and not r[3]]),
            "text_after_ingest": percentiles([r[2] for r in after if r[0] == "text" and not r[3]]),
            "image_after_ingest": percentiles([r[2] for r in after if r[0] == "image" and not r[3]]),
        },
    }


def main() -> None:
    parser = folder_arguments(__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-at", type=float, default=0.4, help="Kill the server when this share of the ingest is done.")
    parser.add_argument("--out", default="serve")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ccl-serve-bench-"))
    folder = make_folder(work / "files", args.images, args.texts)
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())
    env = {**os.environ, "CCL_EMBED_WAIT": "0"}
    image_queries = []
    for p in sorted(folder.rglob("*.png"))[:20]:
        image_queries.append(p.read_bytes())

    print(f"1/3 clean run: {n_files} files", flush=True)
    t0 = time.monotonic()
    clean = subprocess.run([*CLI, "ingest", str(folder), "--store", str(work / "clean"), "-c", "bench", "--model",
                            args.model, "--json", "-q"], env=env, capture_output=True, text=True)
    if clean.returncode != 0:
        raise SystemExit(f"clean ingest failed: {clean.stderr}")
    clean_seconds = time.monotonic() - t0
    reference = points_of(work / "clean", "bench")

    print(f"2/3 {args.clients} clients for {args.seconds:g} s while the server ingests", flush=True)
    proc, url = start_server(work / "served", env, args.model)
    try:
        loaded = load(url, folder, args.clients, args.seconds, image_queries)
    finally:
        stop(proc)
    loaded["equals_clean_run"] = compare(points_of(work / "served", "bench"), reference)

    print("3/3 kill -9 mid-ingest, restart, ingest again", flush=True)
    proc, url = start_server(work / "killed", env, args.model)
    server = ccl_embed.connect(url, collection="bench")
    job = server.start_ingest(folder)
    while True:
        state = server.job(job["id"])
        if state["total"] and state["done"] >= args.kill_at * state["total"]:
            break
        if state["status"] not in ("queued", "running"):
            raise SystemExit(f"the ingest ended before the kill: {state['status']}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left_record = (work / "killed" / ".ccl-serve.json").exists()
    proc, url = start_server(work / "killed", env, args.model)
    try:
        again = ccl_embed.connect(url, collection="bench").ingest(folder)
    finally:
        stop(proc)
    killed = {"killed_at_items": state["done"], "of_items": state["total"], "stale_record_left": left_record,
              "rerun": {k: (len(v) if isinstance(v, list) else v) for k, v in again.items()},
              "equals_clean_run": compare(points_of(work / "killed", "bench"), reference)}

    result = {
        "files": n_files, "images": args.images, "texts": args.texts, "model": args.model,
        "clean_run": {"seconds": round(clean_seconds, 2), "items_per_s": round(n_files / clean_seconds, 1),
                      "summary": {k: (len(v) if isinstance(v, list) else v) for k, v in json.loads(clean.stdout).items()}},
        "under_load": loaded, "killed_mid_ingest": killed,
        "passed": bool(loaded["failed_requests"] == 0 and loaded["equals_clean_run"]["equal"]
                       and killed["equals_clean_run"]["equal"]),
        "versions": versions("ccl-embed", "onnxruntime", "qdrant-edge-py", "fastapi", "uvicorn", "numpy"),
    }
    path = write_result(args.out, result)
    print(json.dumps({k: result[k] for k in ("passed", "clean_run")}, indent=1))
    print(json.dumps(loaded["latency"], indent=1), f"failed {loaded['failed_requests']}")
    print(f"wrote {path}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
