"""Plain against Ray ingest on this machine, side by side: `python benchmarks/distributed.py`
-> benchmarks/results/distributed.json.

1. The same folder (2,000 files made here: 1,500 drawn images and 500 captions) is ingested into a
   fresh embedded store, alternately by the plain engine and by ``--engine ray`` on a local Ray
   (started once, so the rounds measure the ingest, not Ray's start), for ``--rounds`` rounds.
   Both results must equal each other (ids, payloads, vectors to 1e-6). Reported: items/s of
   each, their ratio, each Ray actor's busy rate, and Ray's start time.
2. Ray Data's per-batch overhead: a no-op actor over the same rows and batch size.
3. The driver's write rate: upserting the measured vectors again into a fresh embedded store.
4. kill -9 of the driver: ``ccl-embed ingest --engine ray`` is killed part way through, then
   the same command is run again; the store must equal the plain engine's.
"""

from __future__ import annotations

import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402
from _files import compare, folder_arguments, make_folder, points_of  # noqa: E402

import ccl_embed  # noqa: E402
from ccl_embed.ingest.distributed import RayOptions  # noqa: E402
from ccl_embed.store.base import Point  # noqa: E402

CLI = [sys.executable, "-m", "ccl_embed.cli"]


class _Noop:
    def __call__(self, batch: dict) -> dict:
        return {"n": np.array([len(batch["item"])])}


def main() -> None:
    parser = folder_arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--kill-at", type=float, default=0.6, help="Kill the driver at this share of a Ray run's time.")
    args = parser.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="ccl-dist-bench-"))
    folder = make_folder(work / "files", args.images, args.texts)
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    ray_start = time.perf_counter() - t0
    options = RayOptions(workers=args.workers, device="cpu")
    runs: dict[str, list[float]] = {"plain": [], "ray": []}
    workers: list[dict] = []
    states: dict[str, dict] = {}
    for r in range(args.rounds):
        for engine in ("plain", "ray"):
            store = work / f"{engine}-{r}"
            with ccl_embed.open("bench", store=store, model=args.model, device="cpu") as index:
                start = time.perf_counter()
                summary = (index.ingest(folder, batch_size=args.batch_size) if engine == "plain" else
                           index.ingest(folder, batch_size=args.batch_size, engine="ray", ray=options))
                runs[engine].append(time.perf_counter() - start)
                if summary.added != n_files:
                    raise SystemExit(f"{engine} ingest added {summary.added} of {n_files}")
                if summary.workers:
                    workers.append(summary.workers)
            states[engine] = points_of(store, "bench")
            print(f"round {r} {engine}: {runs[engine][-1]:.1f} s", flush=True)
    equal = compare(states["ray"], states["plain"])

    # Ray Data's cost per batch with nothing to do.
    rows = ray.data.from_items([{"item": b"x" * 64} for _ in range(n_files)])
    start = time.perf_counter()
    batches = sum(int(b["n"].sum() > 0) for b in rows.map_batches(
        _Noop, batch_size=args.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=args.workers)).iter_batches(batch_format="numpy", batch_size=None))
    noop = time.perf_counter() - start
    ray.shutdown()

    # The driver's write rate into the embedded store.
    vectors = [(pid, payload, vec) for pid, (payload, vec) in states["plain"].items()]
    with ccl_embed.open("bench", store=work / "write", model=args.model, device="cpu") as index:
        start = time.perf_counter()
        for i in range(0, len(vectors), args.batch_size):
            index.collection.upsert([Point(pid, vec.astype(float).tolist(), payload)
                                     for pid, payload, vec in vectors[i : i + args.batch_size]])
        write = time.perf_counter() - start
        start = time.perf_counter()
        index.collection.optimize()
        build = time.perf_counter() - start

    # kill -9 of the driver mid-run, then the same command again.
    store = work / "killed"
    command = [*CLI, "ingest", str(folder), "--store", str(store), "-c", "bench", "--model", args.model,
               "--engine", "ray", "--workers", str(args.workers), "--batch-size", str(args.batch_size), "-q", "--json"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    kill_after = args.kill_at * statistics.median(runs["ray"]) + ray_start
    time.sleep(kill_after)
    killed_running = driver.poll() is None
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    ray_cli = Path(sys.executable).with_name("ray")  # the killed driver left its local Ray running
    subprocess.run([str(ray_cli), "stop", "--force"], capture_output=True, timeout=120)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    import json

    again = json.loads(rerun.stdout) if rerun.returncode == 0 else {"error": rerun.stderr[-500:]}
    killed = {"killed_after_s": round(kill_after, 2), "was_running": killed_running,
              "rerun": {k: (len(v) if isinstance(v, list) else v) for k, v in again.items() if k != "workers"},
              "equals_plain": compare(points_of(store, "bench"), states["plain"])}

    plain_rate = [n_files / s for s in runs["plain"]]
    ray_rate = [n_files / s for s in runs["ray"]]
    result = {
        "files": n_files, "images": args.images, "texts": args.texts, "model": args.model,
        "workers": args.workers, "batch_size": args.batch_size, "rounds": args.rounds,
        "plain": {"seconds": [round(s, 2) for s in runs["plain"]], "items_per_s": round(statistics.median(plain_rate), 1)},
        "ray": {"seconds": [round(s, 2) for s in runs["ray"]], "items_per_s": round(statistics.median(ray_rate), 1),
                "per_worker": workers},
        "ray_over_plain": round(statistics.median(ray_rate) / statistics.median(plain_rate), 3),
        "ray_start_s": round(ray_start, 2),
        "ray_noop": {"batches": batches, "seconds": round(noop, 2),
                     "ms_per_batch": round(1000 * noop / max(batches, 1), 2)},
        "driver_write": {"points": len(vectors), "upsert_points_per_s": round(len(vectors) / write, 1),
                         "index_build_s": round(build, 2)},
        "ray_equals_plain": equal, "killed_driver": killed,
        "passed": bool(equal["equal"] and killed["equals_plain"]["equal"]),
        "versions": versions("ccl-embed", "ray", "onnxruntime", "qdrant-edge-py", "numpy"),
    }
    path = write_result("distributed", result)
    print({k: result[k] for k in ("plain", "ray_over_plain", "ray_start_s", "ray_noop", "driver_write", "passed")})
    print(f"wrote {path}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
