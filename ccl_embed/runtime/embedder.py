"""Embedding images and texts with an exported model: streaming, batched, one bad item never costs a batch."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.runtime.batches import batched, loaded_ahead
from ccl_embed.runtime.bow import hashed_bow
from ccl_embed.runtime.folder import (
    DEFAULT_MODEL,
    IMAGE_BACKBONE,
    ModelError,
    IMAGE_HEAD,
    TEXT_BACKBONE,
    TEXT_HEAD,
    TOKENIZER,
    RuntimeModel,
    read_runtime,
    resolve_model,
)
from ccl_embed.runtime.images import ImageError, load_image, to_rgb
from ccl_embed.runtime.patches import pack_fragments, text_fragments
from ccl_embed.runtime.graphs import Placement
from ccl_embed.runtime.session import check_device, device_of, open_graph

TEXT_CACHE_SIZE = 8192
"""How many distinct strings' backbone vectors an :class:`Embedder` keeps (about 12 MB): keyword
fragments such as "face" or "button" recur across a corpus's texts, and each costs a backbone pass."""


@dataclass(frozen=True)
class PreparedImage:
    """An image reduced to what the model reads of it: the backbone input (``float32 [3, s, s]``).
    Holding these instead of decoded images bounds a batch's memory whatever the images' sizes
    (:meth:`Embedder.prepare_image`)."""

    pixels: np.ndarray


ImageInput = Union[str, "os.PathLike[str]", Image.Image, PreparedImage]


@dataclass(frozen=True)
class Embedded:
    """One input's result: its vector, or the reason it could not be embedded."""

    index: int
    vector: np.ndarray | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.vector is not None


class Embedder:
    """Image and text encoders of one model folder, run with onnxruntime (no torch).

    Args:
        model: ``"default"`` (the shipped model), another shipped model's name, or a model
            folder written by ``ccl-embed export``.
        device: ``auto`` (CUDA when onnxruntime can really use it), ``cpu`` or ``cuda``.
        threads: CPU threads (default: onnxruntime's choice for batched graphs, one worker per
            available core for the int8 graphs, which run one item at a time, and for decoding images).
    """

    def __init__(self, model: str | os.PathLike[str] | RuntimeModel = DEFAULT_MODEL, device: str = "auto",
                 threads: int | None = None) -> None:
        self.model = model if isinstance(model, RuntimeModel) else read_runtime(
            resolve_model(model if isinstance(model, str) else Path(model)))
        check_device(device)
        self._device, self._threads = device, threads
        self._sessions: dict[str, Any] = {}
        self._placements: dict[str, Placement] = {}
        self._tokenizer: Any = None
        self._per_item = set(self.model.manifest.quantized_int8)
        self._preprocess = self.model.manifest.preprocessing
        self._workers = threads or available_cores()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def dim(self) -> int:
        return self.model.dim

    def _session(self, name: str) -> Any:
        with self._lock:
            if name not in self._sessions:
                # an int8 graph runs one item per call, on several single-threaded workers at once
                threads = 1 if name in self._per_item and self._workers > 1 else self._threads
                self._sessions[name], self._placements[name] = open_graph(
                    self.model.path(name), self._device, threads, quantized=name in self._per_item)
            return self._sessions[name]

    def placement(self) -> dict[str, Placement]:
        """Where each graph runs: its form (``int8``, ``fp32``, or ``fp32-dequantized`` on CUDA),
        and on CUDA how many nodes each provider ran and which compute nodes fell back to the CPU
        (``ccl_embed.runtime.graphs``). Opens every graph's session."""
        for name in (IMAGE_BACKBONE, IMAGE_HEAD, TEXT_BACKBONE, TEXT_HEAD):
            self._session(name)
        return dict(self._placements)

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The first output of a graph. A dynamically quantized (int8) graph picks its activation scale
        from the whole batch, so it is run one item at a time (without padding tokens): an item's
        vector never depends on what it was batched with. Its CUDA form picks the scale per item
        (``ccl_embed.runtime.graphs.emulated``), so it runs batched unless padding would enter. On the CPU those runs share out over the
        workers: small single-item runs use two threads little better than one."""
        session = self._session(name)
        form = self._placements[name].form
        # fp32 graphs, and int8 ones emulated per item (on CUDA) over inputs without padding, run batched
        if form == "fp32" or (form == "int8-emulated" and "attention_mask" not in feeds):
            return session.run(None, feeds)[0]
        n = next(iter(feeds.values())).shape[0]

        def one(i: int) -> np.ndarray:
            item = {k: v[i : i + 1] for k, v in feeds.items()}
            if "attention_mask" in item:
                length = max(1, int(item["attention_mask"].sum()))
                item = {k: v[:, :length] for k, v in item.items()}
            return session.run(None, item)[0]

        if n > 1 and self._workers > 1 and device_of(session) == "cpu":
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="ccl-embed")
            return np.concatenate(list(self._pool.map(one, range(n))), axis=0)
        return np.concatenate([one(i) for i in range(n)], axis=0)

    def clear_cache(self) -> None:
        """Forget the text vectors kept for reuse (see :data:`TEXT_CACHE_SIZE`)."""
        with self._lock:
            self._text_cache.clear()

    @property
    def device(self) -> str:
        """The device the image backbone really runs on (``cpu`` or ``cuda``)."""
        return device_of(self._session(IMAGE_BACKBONE))

    # ---- images ----------------------------------------------------------------------------
    def _decode(self, item: str | os.PathLike[str] | Image.Image) -> Image.Image:
        if isinstance(item, Image.Image):
            if item.width == 0 or item.height == 0:
                raise ImageError(f"image of {item.width}x{item.height} pixels: there is nothing to embed")
            return to_rgb(item)
        if isinstance(item, (str, os.PathLike)):
            return load_image(item)
        raise CCLEmbedError(f"image {item!r:.60}: pass a path, a PIL image or a PreparedImage")

    def prepare_image(self, item: ImageInput) -> PreparedImage:
        """Decode an image and keep only what the model reads of it (see :class:`PreparedImage`).

        Raises:
            ImageError: When it cannot be decoded.
        """
        if isinstance(item, PreparedImage):
            return item
        img = self._decode(item)
        return PreparedImage(self._preprocess(img))

    def backbone_outputs(self, images: Sequence[ImageInput]) -> tuple[np.ndarray, np.ndarray]:
        """The image backbone's feature map and ImageNet logits for a batch, before the head: what
        training on this model's own features reads (``ccl-embed train --from``).

        Raises:
            ImageError: When an image cannot be decoded.
        """
        return self._backbone(np.stack([self.prepare_image(im).pixels for im in images]))

    def _backbone(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The image backbone on a batch of pixels: its feature map (on the manifest's grid) and logits."""
        fmap, logits = self._session(IMAGE_BACKBONE).run(None, {"pixels": pixels})
        self._check_grid(fmap)
        return fmap, logits

    def backbone_texts(self, texts: Sequence[str]) -> np.ndarray:
        """The text backbone's vectors, before the head (see :meth:`backbone_outputs`)."""
        return self._text_vectors(list(texts))

    def embed_images(self, images: Iterable[ImageInput], batch_size: int = 32) -> Iterator[Embedded]:
        """Embed images (paths, PIL images or prepared images), in order, one result per input.

        A file that cannot be decoded yields an :class:`Embedded` with ``error`` set; the rest
        of its batch is embedded as usual. Images are decoded and reduced on a pool of one thread
        per core (``threads``), the next batch while this one runs through the model
        (:func:`ccl_embed.runtime.batches.loaded_ahead`); the vectors are those of decoding one by one.

        Raises:
            CCLEmbedError: When ``batch_size`` is not a positive whole number.
        """
        check_batch_size(batch_size)
        one_is_not_many(images, "images")

        def prepare(pair: tuple[int, ImageInput]) -> PreparedImage:
            return self.prepare_image(pair[1])

        # images already prepared (an ingest prepares them on its own pool) need no decoding threads
        done = isinstance(images, Sequence) and all(isinstance(im, PreparedImage) for im in images)
        for batch, prepared in loaded_ahead(batched(images, batch_size), prepare, 1 if done else self._workers):
            pixels, ok, failed = [], [], {}
            for (i, _), got in zip(batch, prepared):
                if isinstance(got, (ImageError, CCLEmbedError, OSError)):
                    failed[i] = str(got)
                elif isinstance(got, Exception):
                    raise got
                else:
                    pixels.append(got.pixels)
                    ok.append(i)
            vectors: dict[int, np.ndarray] = {}
            if pixels:
                fmap, logits = self._backbone(np.stack(pixels))
                out = self._run(IMAGE_HEAD, {"feature_map": fmap, "logits": logits})
                vectors = dict(zip(ok, out))
            for i, _ in batch:
                yield Embedded(i, vectors.get(i), failed.get(i))

    def _check_grid(self, fmap: np.ndarray) -> None:
        """The head pools its regions on the grid the manifest names; another grid would pool the wrong regions silently."""
        grid = self.model.manifest.patches.feature_grid
        if fmap.shape[-2:] != (grid, grid):
            raise ModelError(f"{self.model.folder}: the image backbone gives a {fmap.shape[-2]}x{fmap.shape[-1]} feature map "
                             f"but the manifest's patches are on a {grid}x{grid} grid; re-export the model with "
                             "`ccl-embed export MODEL_DIR`")

    # ---- texts -----------------------------------------------------------------------------
    @staticmethod
    def tokenizer_from(path: Path, max_tokens: int) -> Any:
        """A ``tokenizers`` tokenizer from its JSON file, truncating and padding to the longest."""
        tokenizers = require("tokenizers", "runtime")
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.enable_truncation(max_tokens)
        tok.enable_padding()
        return tok

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        if self._tokenizer is None:
            self._tokenizer = self.tokenizer_from(self.model.path(TOKENIZER), self.model.manifest.max_text_tokens)
        enc = self._tokenizer.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}

    def _text_vectors(self, texts: list[str]) -> np.ndarray:
        """Backbone vectors of texts; each distinct string is encoded once, and the last
        :data:`TEXT_CACHE_SIZE` strings are kept for later calls (fragments such as a shared keyword
        recur across texts, and a string's vector never depends on its batch)."""
        vectors: dict[str, np.ndarray] = {}
        with self._lock:
            for t in dict.fromkeys(texts):
                if t in self._text_cache:
                    self._text_cache.move_to_end(t)
                    vectors[t] = self._text_cache[t]
        missing = sorted((t for t in dict.fromkeys(texts) if t not in vectors), key=len)  # similar lengths pad less
        for start in range(0, len(missing), 64):
            chunk = missing[start : start + 64]
            vectors.update(zip(chunk, self._run(TEXT_BACKBONE, self._tokenize(chunk)).astype(np.float32, copy=False)))
        with self._lock:
            for t in missing:
                self._text_cache[t] = vectors[t]
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return np.stack([vectors[t] for t in texts])

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The vectors of texts as one ``[len(texts), dim]`` float32 array, like sentence-transformers'
        ``encode``. :meth:`embed_texts` streams per-item results instead.

        Raises:
            TypeError: For a bare ``str`` instead of a list.
            CCLEmbedError: For the first text that cannot be embedded (its index and reason).
        """
        return self._stacked(self.embed_texts(texts, batch_size), "text")

    def encode_images(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """The vectors of images as one ``[len(images), dim]`` float32 array (see :meth:`encode_texts`).

        Raises:
            TypeError: For a bare path or image instead of a list.
            CCLEmbedError: For the first image that cannot be embedded (its index and reason).
        """
        return self._stacked(self.embed_images(images, batch_size), "image")

    def _stacked(self, results: Iterable[Embedded], what: str) -> np.ndarray:
        out = list(results)
        return vectors_or_raise(out, what).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def embed_texts(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[Embedded]:
        """Embed texts, in order, one result per input (an empty or non-string text yields an error).

        Raises:
            CCLEmbedError: When ``batch_size`` is not a positive whole number.
        """
        check_batch_size(batch_size)
        one_is_not_many(texts, "texts")
        for batch in batched(texts, batch_size):
            good = [(i, t.strip()) for i, t in batch if isinstance(t, str) and t.strip()]
            vectors: dict[int, np.ndarray] = {}
            if good:
                slots = self.model.manifest.patches.max_fragments
                frags = [text_fragments(t, slots) for _, t in good]
                flat = [t for _, t in good] + [f for fs in frags for f in fs]
                vec = self._text_vectors(flat)
                n = len(good)
                by_text = dict(zip(flat, vec))
                fragments, mask = pack_fragments(frags, by_text.__getitem__, vec.shape[1], slots)
                feeds = {"text": vec[:n], "fragments": fragments, "fragment_mask": mask}
                if self.model.manifest.text_bow:
                    feeds["bow"] = hashed_bow([t for _, t in good], self.model.manifest.text_bow)
                out = self._run(TEXT_HEAD, feeds)
                vectors = {i: v for (i, _), v in zip(good, out)}
            for i, t in batch:
                yield Embedded(i, vectors.get(i), None if i in vectors else f"text #{i} is empty or not a string: {t!r:.40}")


def available_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_batch_size(batch_size: object) -> int:
    """``batch_size`` when it is a positive whole number, else a CCLEmbedError saying so."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CCLEmbedError(f"batch_size={batch_size!r}: give a positive whole number of items, for example 32")
    return batch_size


def one_is_not_many(items: object, what: str) -> None:
    """A bare string (or path, or image) where a list of them belongs is a TypeError, not one
    item per character.

    Raises:
        TypeError: For a ``str``, ``bytes``, ``os.PathLike`` or PIL image given alone.
    """
    if isinstance(items, (str, bytes, os.PathLike, Image.Image)):
        raise TypeError(f"{what}: got one {type(items).__name__}, expected a list of them; wrap it: [{items!r:.40}]")


def vectors_or_raise(results: Iterable[Embedded], what: str) -> np.ndarray:
    """Stack the vectors of a stream of results; raise on the first failed item (for evaluation)."""
    out = []
    for r in results:
        if r.vector is None:
            raise CCLEmbedError(f"{what} #{r.index} could not be embedded: {r.error}")
        out.append(r.vector)
    return np.stack(out)
