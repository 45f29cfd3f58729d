"""A feature cache keyed by tower id and content hash (SQLite, one file, safe to interrupt).

Training runs many times over the same corpus; the frozen towers' outputs are computed once.
Values are stored as float16 ``.npz`` blobs (half the size; the towers' outputs lose nothing
that matters at that precision for learning the CCL layers).
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


def as_stored(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays exactly as a cache read would return them (float16 precision, float32 type).

    Fresh and cached features must be identical, or a first run and a re-run would differ.
    """
    return {k: np.asarray(v, dtype=np.float16).astype(np.float32) for k, v in arrays.items()}


def _pack(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, dtype=np.float16) for k, v in arrays.items()})  # type: ignore[arg-type]
    return buf.getvalue()


def _unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as z:
        return {k: z[k].astype(np.float32) for k in z.files}


class FeatureCache:
    """Persistent map ``(tower id, content key) -> named arrays``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS features (tower TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
            "PRIMARY KEY (tower, key))"
        )

    def get_many(self, tower: str, keys: Iterable[str]) -> dict[str, dict[str, np.ndarray]]:
        """The cached entries among ``keys``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, value FROM features WHERE tower = ? AND key IN ({marks})", [tower, *chunk])
            out.update((k, _unpack(v)) for k, v in rows)
        return out

    def put_many(self, tower: str, items: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Store entries (one transaction)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO features (tower, key, value) VALUES (?, ?, ?)",
                [(tower, k, _pack(v)) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
