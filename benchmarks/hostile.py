"""The heavy hostile-input and fault cases, run through the real CLI in child processes, with the
shipped default model at its default settings. Writes ``benchmarks/results/hostile.json``: each
case, its outcome, the exit code, the measured figures and whether anything was lost.

    python benchmarks/hostile.py [--cases memory full-disk many-files interrupt odd-names server]

Cases:
- ``memory``: 32 PNGs of 8000x8000 pixels (a few MB of files); the ingest's peak RSS must stay at
  or under 1.5 GiB (``resource.getrusage`` of the child).
- ``full-disk``: an ingest into a store on a small tmpfs that fills up while it runs (root only):
  one line and exit 2; after space is freed, the same command equals a clean run.
- ``many-files``: 2,000 files, with hostile names, links out of the folder, a FIFO and a bad image
  among them: all good items stored, each refusal one reason, a re-run stores nothing twice.
- ``interrupt``: SIGTERM in the middle of that ingest: one line, exit 143; the same command then
  equals a clean run.
- ``odd-names``: Latin-1 and random-byte names beside normal files: exit 0 or 1, valid ``--json``,
  every normal file stored, each odd one stored (its bytes round-trip) or skipped with a reason.
- ``server``: ``ccl-embed serve`` met by a rebound web page (foreign ``Host``), another origin and a
  local process without the ingest token: each refused with 403 and nothing stored; the user's
  own ``ccl-embed ingest`` goes through with no new flag.

Cases not run keep their earlier record in the result file (each case says when it was measured).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402

CHILD = "import sys; from ccl_embed.cli import main; sys.argv = ['ccl-embed'] + sys.argv[1:]; main()"
RSS_LIMIT_MIB = 1536


def _cli(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=3600, **kwargs)


def _state(store: Path, collection: str = "ccl-embed") -> dict[str, tuple[dict[str, Any], list[float]]]:
    from ccl_embed.store.edge import EdgeCollection

    with EdgeCollection(store, collection, None) as coll:
        return {pid: (payload, vec or []) for pid, payload, vec in
                coll.scan(fields=("path", "sha256", "pairs", "text", "modality", "label"), with_vectors=True)}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k][0] == b[k][0] and np.allclose(a[k][1], b[k][1], atol=1e-5) for k in a)


def _drawing(seed: int, side: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = Image.new("RGB", (200, 200), tuple(int(v) for v in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(small)
    for _ in range(12):
        x, y = rng.integers(0, 180, 2)
        d.ellipse([int(x), int(y), int(x) + 30, int(y) + 30], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return small.resize((side, side), Image.Resampling.NEAREST)


def case_memory(tmp: Path) -> dict[str, Any]:
    folder = tmp / "huge"
    folder.mkdir()
    for i in range(4):
        _drawing(i, 8000).save(folder / f"huge-{i:02d}.png")
    for i in range(4, 32):
        shutil.copyfile(folder / f"huge-{i % 4:02d}.png", folder / f"huge-{i:02d}.png")
    files_mb = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    store = tmp / "store-memory"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = _cli(["ingest", str(folder), "--store", str(store), "-q"])
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    points = len(_state(store)) if out.returncode == 0 else 0
    return {"images": 32, "pixels_each": "8000x8000", "files_mib": round(files_mb, 2), "exit_code": out.returncode,
            "peak_rss_mib": round(peak_mib, 1), "peak_rss_limit_mib": RSS_LIMIT_MIB,
            "earlier_children_peak_mib": round(before / 1024, 1), "seconds": round(seconds, 1),
            "points": points, "lost": points != 32,
            "outcome": "pass" if out.returncode == 0 and peak_mib <= RSS_LIMIT_MIB and points == 32 else "fail",
            "stderr": out.stderr.strip()[-300:]}


def _many_files(folder: Path, n: int = 2000) -> int:
    """n files: images with captions by stem, notes, hostile names, links out, a FIFO, a bad image.
    Returns how many items should be stored."""
    folder.mkdir()
    outside = folder.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("outside the folder")
    good = 0
    for i in range(n // 2 - 3):
        sub = folder / f"part-{i // 200:02d}"
        sub.mkdir(exist_ok=True)
        _drawing(i, 48).save(sub / f"item-{i:04d}.png")
        (sub / f"item-{i:04d}.txt").write_text(f"drawing number {i} with {i % 12 + 1} round spots")
        good += 2
    (folder / "evil\nfailed forged.png: x.txt").write_text("a name with a newline")
    (folder / "title\x1b]0;pwned\x07.txt").write_text("a name with an escape sequence")
    good += 2
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    os.symlink(outside / "secret.txt", folder / "passwd.txt")
    os.symlink("/proc/self/environ", folder / "env.txt")
    os.mkfifo(folder / "pipe.txt")
    return good


def case_many_files(tmp: Path) -> dict[str, Any]:
    folder = tmp / "many"
    expected = _many_files(folder)
    store = tmp / "store-many"
    started = time.perf_counter()
    out = _cli(["ingest", str(folder), "--store", str(store), "--json"])
    seconds = time.perf_counter() - started
    summary = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
    again = _cli(["ingest", str(folder), "--store", str(store), "--json"])
    second = json.loads(again.stdout.strip().splitlines()[-1]) if again.stdout.strip() else {}
    reasons = {s["path"]: s["reason"] for s in summary.get("skipped", [])}
    stored = _state(store)
    texts = {p.get("text") for p, _ in stored.values()}
    leaked = any("outside the folder" in (t or "") or "PATH=" in (t or "") for t in texts)
    ok = (out.returncode == 1 and summary.get("added") == expected and second.get("added") == 0
          and second.get("unchanged") == expected and len(stored) == expected and not leaked
          and set(reasons) == {"broken.png", "passwd.txt", "env.txt", "pipe.txt"})
    return {"files": len([p for p in folder.rglob("*")]), "expected_items": expected, "exit_code": out.returncode,
            "added": summary.get("added"), "rerun_added": second.get("added"), "rerun_unchanged": second.get("unchanged"),
            "skipped": reasons, "points": len(stored), "read_outside": leaked, "seconds": round(seconds, 1),
            "items_per_s": round(expected / seconds, 1), "lost": len(stored) != expected,
            "outcome": "pass" if ok else "fail"}


def _start_ingest(tmp: Path, store: Path, settle: float) -> tuple[list[str], subprocess.Popen[str]]:
    """Start an ingest of the many-files folder in a child, and return once it has been writing
    for ``settle`` seconds."""
    folder = tmp / "many"
    if not folder.exists():
        _many_files(folder)
    args = ["ingest", str(folder), "--store", str(store), "-q"]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 600
    while not (store / "ccl-embed" / ".lock").exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.1)
    time.sleep(settle)
    return args, child


def _equals_clean_run(tmp: Path, store: Path) -> bool:
    clean_store = tmp / "store-many"
    if not clean_store.exists():
        _cli(["ingest", str(tmp / "many"), "--store", str(clean_store), "-q"])
    return _same(_state(store), _state(clean_store))


def case_interrupt(tmp: Path) -> dict[str, Any]:
    store = tmp / "store-interrupt"
    args, child = _start_ingest(tmp, store, settle=3.0)  # well inside the embedding
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=600)
    partial = len(_state(store)) if (store / "ccl-embed" / "collection.json").exists() else 0
    rerun = _cli(args)
    equal = _equals_clean_run(tmp, store)
    lines = err.strip().splitlines()
    ok = child.returncode == 143 and len(lines) == 1 and lines[0].startswith("interrupted: ") and equal
    return {"signal": "SIGTERM", "exit_code": child.returncode, "message": err.strip(), "points_when_stopped": partial,
            "rerun_exit_code": rerun.returncode, "rerun_equals_clean_run": equal, "lost": not equal,
            "outcome": "pass" if ok else "fail"}


def case_full_disk(tmp: Path) -> dict[str, Any]:
    disk = tmp / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"outcome": "skipped", "reason": f"cannot mount a tmpfs ({mounted.stderr.strip() or 'not root'})"}
    try:
        store = disk / "store"
        args, child = _start_ingest(tmp, store, settle=2.0)
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler = disk / "filler"
        subprocess.run(["fallocate", "-l", str(free - (150 << 20)), str(filler)], check=True)
        _, err = child.communicate(timeout=600)
        search = _cli(["search", "round spots", "--store", str(store), "-k", "3"])
        filler.unlink()
        rerun = _cli(args)
        equal = _equals_clean_run(tmp, store)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    lines = err.strip().splitlines()
    ok = child.returncode == 2 and len(lines) == 1 and "MiB free" in lines[0] and equal
    return {"tmpfs": "400 MiB, filled to 150 MiB free during the ingest", "exit_code": child.returncode,
            "message": err.strip(), "search_exit_code": search.returncode,
            "search_lines": len(search.stdout.strip().splitlines()) + len(search.stderr.strip().splitlines()),
            "rerun_exit_code": rerun.returncode, "rerun_equals_clean_run": equal, "lost": not equal,
            "outcome": "pass" if ok else "fail"}


def case_odd_names(tmp: Path) -> dict[str, Any]:
    """Names from old archives beside normal files: Latin-1, random bytes, a broken image among them."""
    folder = tmp / "odd"
    folder.mkdir()
    raw = os.fsencode(folder)
    for i in range(10):
        _drawing(i, 48).save(folder / f"normal-{i}.png")
        (folder / f"normal-{i}.txt").write_text(f"drawing number {i}")
    odd = [b"caf\xe9.png", b"na\xefve r\xe9sum\xe9.png", b"bad\xff\xfe.png", b"\x80\x81\x82.png", b"mixed-\xc3(.png"]
    for i, name in enumerate(odd):
        _drawing(100 + i, 48).save(folder / "x.png")
        os.rename(folder / "x.png", raw + b"/" + name)
    with open(raw + b"/caf\xe9.txt", "wb") as f:
        f.write("a drawing from the café".encode())
    with open(raw + b"/broken\xff.png", "wb") as f:
        f.write(b"not an image")
    store = tmp / "store-odd"
    out = _cli(["ingest", str(folder), "--store", str(store), "--json"])
    try:
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        valid_json = True
    except (ValueError, IndexError):
        summary, valid_json = {}, False
    stored = {p.get("path"): p for p, _ in _state(store).values()}
    normal = {f"normal-{i}.{ext}" for i in range(10) for ext in ("png", "txt")}
    odd_stored = sorted(str(k) for k in stored if k not in normal)
    reasons = {s["path"]: s["reason"] for s in summary.get("skipped", [])}
    round_trip = all(os.path.exists(raw + b"/" + base64.b64decode(p["path_bytes"]))
                     for p in stored.values() if p.get("path_bytes"))
    ok = (out.returncode in (0, 1) and valid_json and normal <= set(stored) and len(odd_stored) + len(reasons) == len(odd) + 2
          and round_trip and "Traceback" not in out.stderr)
    return {"files": len(os.listdir(raw)), "exit_code": out.returncode, "valid_json": valid_json,
            "normal_stored": len(normal & set(stored)), "odd_stored": odd_stored, "skipped": reasons,
            "names_round_trip": round_trip, "lost": not normal <= set(stored), "outcome": "pass" if ok else "fail"}


def case_server(tmp: Path) -> dict[str, Any]:
    """``ccl-embed serve`` as a hostile web page and a hostile local process would meet it."""
    import http.client

    store, folder = tmp / "store-serve", tmp / "private"
    folder.mkdir()
    (folder / "secret.txt").write_text("the bank password")
    env = {**os.environ, "CCL_EMBED_STORE": str(store), "CCL_EMBED_CACHE": str(tmp / "cache-serve")}
    server = subprocess.Popen([sys.executable, "-c", CHILD, "serve", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port, deadline = 0, time.time() + 300
        while not port and time.time() < deadline and server.stderr is not None:
            line = server.stderr.readline()  # "serving STORE (model default) at http://127.0.0.1:PORT; Ctrl-C stops"
            if not line:
                raise RuntimeError("ccl-embed serve stopped before it answered")
            if " at http://" in line:
                port = int(line.split(" at http://", 1)[1].split(";")[0].rsplit(":", 1)[1])

        def call(method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.putrequest(method, path, skip_host=True)
            data = json.dumps(body).encode() if body is not None else b""
            for k, v in {**headers, "Content-Type": "application/json", "Content-Length": str(len(data))}.items():
                conn.putheader(k, v)
            conn.endheaders(data)
            status = conn.getresponse().status
            conn.close()
            return status

        own = {"Host": f"127.0.0.1:{port}"}
        ask = {"path": str(folder), "collection": "pwn"}
        statuses = {
            "rebound Host, search": call("GET", "/api/search?q=password", {"Host": f"evil.example:{port}"}),
            "rebound Host, ingest": call("POST", "/api/ingest", {"Host": f"evil.example:{port}"}, ask),
            "look-alike Host": call("GET", "/api/collections", {"Host": f"localhost.evil.example:{port}"}),
            "foreign Origin, ingest": call("POST", "/api/ingest", {**own, "Origin": "http://evil.example"}, ask),
            "local process without the token, ingest": call("POST", "/api/ingest", own, ask),
            "own Host, search": call("GET", "/api/collections", own),
        }
        time.sleep(1.0)
        refused_stored = _cli(["collections"], env=env).stdout.count("pwn")
        routed = _cli(["ingest", str(folder), "-c", "mine", "--json"], env=env)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    expected = {k: (200 if k.startswith("own") else 403) for k in statuses}
    ok = statuses == expected and refused_stored == 0 and routed.returncode == 0
    return {"statuses": statuses, "refused_ingests_stored": refused_stored, "cli_ingest_exit_code": routed.returncode,
            "lost": False, "outcome": "pass" if ok else "fail"}


CASES = {"memory": case_memory, "many-files": case_many_files, "interrupt": case_interrupt, "full-disk": case_full_disk,
         "odd-names": case_odd_names, "server": case_server}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ccl-hostile-") as tmp:
        for name in args.cases:
            print(f"case {name}...", flush=True)
            results[name] = CASES[name](Path(tmp))
            print(f"  {results[name]['outcome']}: " + json.dumps({k: v for k, v in results[name].items()
                                                                   if k not in ("skipped", "stderr", "message")}), flush=True)
    from _common import RESULTS

    earlier = RESULTS / "hostile.json"  # cases not run now keep their last record (each says when)
    kept = json.loads(earlier.read_text()).get("cases", {}) if earlier.exists() else {}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cases = {**kept, **{k: {**v, "measured_at": stamp} for k, v in results.items()}}
    path = write_result("hostile", {"versions": versions("ccl-embed", "qdrant-edge-py", "onnxruntime", "pillow"),
                                    "cases_run_now": list(results), "cases": cases})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
