"""The record a server leaves beside the embedded store it holds, so that the CLI finds it.

    STORE/.ccl-serve.lock   held (flock) by the serving process for as long as it lives
    STORE/.ccl-serve.json   {"url", "pid", "version", "auth", "started"}, written once it answers

The lock, not the pid, says whether the server lives: the kernel lets go of it when the process
dies, even by ``kill -9``, so a record whose lock can be taken is stale and is removed. Standard
library only: the CLI reads it without the ``serve`` extra.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from ccl_embed.errors import CCLEmbedError
from ccl_embed.store.lock import CAN_LOCK, try_lock

RECORD_FILE = ".ccl-serve.json"
LOCK_FILE = ".ccl-serve.lock"
STARTUP_WAIT = 30.0
"""Seconds a client waits for a server that holds the store but does not answer yet (loading its model)."""


@dataclass(frozen=True)
class ServeRecord:
    """Where the server of a store answers.

    Attributes:
        url: Its base URL (``http://127.0.0.1:8700``).
        pid: Its process id.
        version: The ccl-embed version it runs.
        auth: Whether it asks for an API key (the key itself is never written).
        started: When it started (Unix time).
        token: The ingest token, a random secret of this run: the user's own processes read it
            here (the file is the user's alone, mode 0600) and send it to ingest.
    """

    url: str
    pid: int
    version: str
    auth: bool = False
    started: float = 0.0
    token: str | None = None


def _try_lock(path: Path) -> IO[str] | None:
    """The lock on ``path`` if no process holds it (the caller closes it), else None. Without
    locks (Windows) a record is trusted as written: the store counts as held while one exists."""
    if not CAN_LOCK and (path.parent / RECORD_FILE).exists():
        return None
    return try_lock(path)


class Holding:
    """The serving process's claim on a store: the lock now, the record once it answers, both
    removed when it stops.

    Raises:
        CCLEmbedError: When another server holds the store (the message gives its URL).
    """

    def __init__(self, store: Path) -> None:
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        handle = _try_lock(store / LOCK_FILE)
        if handle is None:
            found = read_record(store)
            where = f" at {found.url} (pid {found.pid})" if found else ""
            raise CCLEmbedError(f"the store {store} is already served{where}; stop that server, or use it "
                                "(ccl-embed search and ingest go through it)")
        self._handle: IO[str] | None = handle
        self._by_url: Path | None = None
        (store / RECORD_FILE).unlink(missing_ok=True)  # a dead server's

    def publish(self, url: str, auth: bool, token: str | None = None) -> ServeRecord:
        """Write the record, readable by this user alone (it holds the ingest ``token``): from now
        on the CLI routes through ``url``."""
        from ccl_embed._version import __version__

        record = ServeRecord(url=url, pid=os.getpid(), version=__version__, auth=auth, started=time.time(), token=token)
        _write_private(self.store / RECORD_FILE, asdict(record))
        if token is not None:  # for ccl_embed.connect(url), which knows the URL and not the store
            self._by_url = _url_file(url)
            _write_private(self._by_url, {"url": url, "token": token, "pid": record.pid})
        return record

    def release(self) -> None:
        """Remove the record and let go of the lock (twice is harmless)."""
        if self._handle is not None:
            (self.store / RECORD_FILE).unlink(missing_ok=True)
            if self._by_url is not None:
                self._by_url.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Holding:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_private(path: Path, data: dict[str, object]) -> None:
    """Write JSON that only this user may read (mode 0600, in a 0700 folder when it makes one), atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data))
    os.replace(tmp, path)


def _server_key(url: str) -> str:
    """A server's identity by URL: ``local-PORT`` for this machine's own names (``localhost``,
    ``127.0.0.1`` and ``[::1]`` reach the same server), else the URL itself."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url.rstrip("/"))
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.hostname in ("localhost", "127.0.0.1", "::1") and port:
        return f"local-{port}"
    return url.rstrip("/")


def _url_file(url: str) -> Path:
    """Where a running server's ingest token is kept by its URL: ``<cache>/servers/``."""
    from ccl_embed.paths import cache_dir

    return cache_dir() / "servers" / (hashlib.sha256(_server_key(url).encode()).hexdigest()[:20] + ".json")


def token_for(url: str) -> str | None:
    """The ingest token of the server running at ``url`` under this user, or None."""
    try:
        data = json.loads(_url_file(url).read_text())
        return str(data["token"]) if _server_key(str(data.get("url", ""))) == _server_key(url) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_record(store: Path) -> ServeRecord | None:
    """The record as written, or None when there is none or it cannot be read."""
    try:
        data = json.loads((store / RECORD_FILE).read_text())
        return ServeRecord(url=str(data["url"]), pid=int(data["pid"]), version=str(data.get("version", "")),
                           auth=bool(data.get("auth", False)), started=float(data.get("started", 0.0)),
                           token=str(data["token"]) if data.get("token") else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def served_at(store: str | os.PathLike[str], wait: float = STARTUP_WAIT) -> ServeRecord | None:
    """The live server of an embedded store, or None when no server holds it.

    A record left by a killed server is removed. A server that holds the store but has not
    answered yet (it is loading its model) is waited for, up to ``wait`` seconds.
    """
    folder = Path(store).expanduser()
    if not (folder / LOCK_FILE).exists():
        return None
    deadline = time.monotonic() + wait
    while True:
        handle = _try_lock(folder / LOCK_FILE)
        if handle is not None:  # nobody holds it: any record is a dead server's
            try:
                (folder / RECORD_FILE).unlink(missing_ok=True)
            finally:
                handle.close()
            return None
        record = read_record(folder)
        if record is not None:
            return record
        if time.monotonic() >= deadline:
            raise CCLEmbedError(f"a server holds the store {folder} but has not said where it answers after "
                                f"{wait:g} s; wait for it to start, or stop it")
        time.sleep(0.1)
