"""Folders of files made for the ingest benchmarks (deterministic), and store comparisons."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import ccl_embed

COLOURS = {"red": (214, 40, 40), "orange": (240, 140, 20), "yellow": (236, 210, 30), "green": (40, 160, 60),
           "blue": (40, 80, 210), "purple": (130, 50, 170), "brown": (120, 80, 40), "black": (20, 20, 20)}
SHAPES = ("circle", "square", "triangle", "star", "ring", "bar")


def _shape(d: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], colour: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        d.ellipse(box, fill=colour)
    elif shape == "square":
        d.rectangle(box, fill=colour)
    elif shape == "triangle":
        d.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "star":
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
        pts = [(cx + (r if i % 2 == 0 else r / 2.5) * np.cos(np.pi * i / 5 - np.pi / 2),
                cy + (r if i % 2 == 0 else r / 2.5) * np.sin(np.pi * i / 5 - np.pi / 2)) for i in range(10)]
        d.polygon(pts, fill=colour)
    elif shape == "ring":
        d.ellipse(box, outline=colour, width=max(3, int((x1 - x0) / 8)))
    else:
        d.rectangle((x0, (y0 + y1) / 2 - (y1 - y0) / 8, x1, (y0 + y1) / 2 + (y1 - y0) / 8), fill=colour)


def make_folder(root: Path, n_images: int, n_texts: int, seed: int = 0) -> Path:
    """Drawn images (one to three coloured shapes) and captions: deterministic for a seed."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    for i in range(n_images):
        size = rng.choice((96, 128, 160))
        img = Image.new("RGB", (size, size), (255, 255, 255))
        d = ImageDraw.Draw(img)
        parts = []
        for _ in range(rng.randint(1, 3)):
            colour, shape = rng.choice(names), rng.choice(SHAPES)
            x0, y0 = rng.uniform(0, size * 0.5), rng.uniform(0, size * 0.5)
            w = rng.uniform(size * 0.25, size * 0.5)
            _shape(d, shape, (x0, y0, x0 + w, y0 + w), COLOURS[colour])
            parts.append(f"a {colour} {shape}")
        folder = root / f"set{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        img.save(folder / f"img{i:05d}.{'png' if i % 2 else 'jpg'}")
        if i < n_texts:
            (folder / f"img{i:05d}.txt").write_text(" and ".join(parts) + " on a white background\n")
    return root


def points_of(store: Path, collection: str) -> dict[str, tuple[dict, np.ndarray]]:
    with ccl_embed.open(collection, store=store, model=None) as index:
        return {pid: (payload, np.asarray(vec, dtype=np.float64)) for pid, payload, vec in index.collection.scan(
            None, ("modality", "path", "root", "sha256", "label", "pairs", "text", "model", "model_version"),
            with_vectors=True)}


def compare(a: dict[str, tuple[dict, np.ndarray]], b: dict[str, tuple[dict, np.ndarray]]) -> dict[str, object]:
    same_ids = a.keys() == b.keys()
    payloads = same_ids and all(a[k][0] == b[k][0] for k in a)
    diff = max((float(np.max(np.abs(a[k][1] - b[k][1]))) for k in a if k in b), default=float("inf"))
    return {"points": len(a), "reference_points": len(b), "same_ids": same_ids, "same_payloads": bool(payloads),
            "max_abs_vector_difference": diff, "equal": bool(same_ids and payloads and diff <= 1e-6)}


def folder_arguments(description: str | None) -> argparse.ArgumentParser:
    """A parser with the options every ingest benchmark takes: the model and the folder's size."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--texts", type=int, default=500)
    return parser
