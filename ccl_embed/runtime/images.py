"""Image decoding and preprocessing, owned by the runtime (numpy/PIL only).

Corpus building, feature extraction and export import these from here; the runtime imports
nothing of theirs. What a model folder needs to preprocess its inputs is recorded in its
manifest as a :class:`Preprocessing` (``ccl_embed.runtime.manifest``).

Every image becomes 8-bit RGB: EXIF orientation applied, transparency flattened on white,
palette, greyscale and 16-bit images converted, the first frame of an animation taken. SVG is
rendered with resvg (``pip install resvg-py``), a maintained renderer with no system libraries.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ccl_embed.errors import CCLEmbedError, MissingDependencyError

MAX_PIXELS = 64_000_000
"""Images with more pixels are refused (decompression-bomb guard)."""

REDUCE_PIXELS = 16_000_000
"""Images with more pixels are decoded reduced (JPEG: at a smaller DCT scale; others: shrunk by
an integer factor, box filter, before any conversion) to at most about this many, so one huge
image costs a bounded amount of memory. The model reads 224 pixels a side; smaller images are
decoded exactly."""

SVG_RENDER_SIZE = 256
"""SVGs are rendered to fit this many pixels on their longer side."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
SVG_SUFFIXES = (".svg", ".svgz")


class ImageError(CCLEmbedError, ValueError):
    """An image file cannot be decoded; the message names the file and the reason."""


def render_svg(source: str | os.PathLike[str], size: int = SVG_RENDER_SIZE, *, markup: bool = False) -> Image.Image:
    """Render an SVG to an RGBA image whose longer side is ``size`` pixels.

    Args:
        source: An SVG file, or the SVG markup itself when ``markup`` is True.
        size: The longer side of the result in pixels.
        markup: Whether ``source`` is markup rather than a path.

    Raises:
        MissingDependencyError: When resvg-py is not installed.
        ImageError: When the SVG cannot be parsed or rendered.
    """
    try:
        import resvg_py
    except ImportError as e:
        raise MissingDependencyError(
            "SVG needs a renderer; install it with: pip install resvg-py (or pip install 'ccl-embed[svg]')"
        ) from e
    name = "<svg markup>" if markup else str(source)

    def render(width: int | None = None, height: int | None = None) -> bytes:
        if markup:
            return bytes(resvg_py.svg_to_bytes(svg_string=str(source), width=width, height=height, dpi=96.0))
        return bytes(resvg_py.svg_to_bytes(svg_path=str(source), width=width, height=height, dpi=96.0))

    try:
        png = render(width=size)
        with Image.open(io.BytesIO(png)) as probe:
            portrait = probe.height > probe.width
        if portrait:  # fit the longer side
            png = render(height=size)
        img = Image.open(io.BytesIO(png))
        img.load()
    except Exception as e:  # resvg raises plain Exceptions for parse and render errors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"{name}: SVG could not be rendered ({first})") from e
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Normalise any PIL image to 8-bit RGB, transparency flattened on white."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size and arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / hi), 0, 255).astype(np.uint8), mode="L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        background.alpha_composite(img.convert("RGBA"))
        return background.convert("RGB")
    return img.convert("RGB")


def load_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS, data: bytes | None = None) -> Image.Image:
    """Decode an image file (raster or SVG) to RGB.

    Args:
        path: The file (its suffix tells SVG from raster; it names the file in errors).
        max_pixels: Refuse images with more pixels than this.
        data: The file's bytes when already read; the file is then not opened again.

    Returns:
        An 8-bit RGB image.

    Raises:
        ImageError: When the file is missing, empty, truncated, not an image, or too large.
        MissingDependencyError: For an SVG when no renderer is installed.
    """
    path = Path(path)
    if path.suffix.lower() in SVG_SUFFIXES:
        if data is None:
            return to_rgb(render_svg(path))
        try:
            markup = (gzip.decompress(data) if path.suffix.lower() == ".svgz" else data).decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError) as e:
            raise ImageError(f"{path}: not a readable SVG ({e})") from e
        try:
            return to_rgb(render_svg(markup, markup=True))
        except ImageError as e:
            raise ImageError(str(e).replace("<svg markup>", str(path))) from e
    try:
        empty = not data if data is not None else path.stat().st_size == 0
    except FileNotFoundError as e:
        raise ImageError(f"{path}: file not found") from e
    except OSError as e:
        raise ImageError(f"{path}: cannot be read ({e.strerror})") from e
    if empty:
        raise ImageError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as img:
            if img.width * img.height > max_pixels:
                raise ImageError(
                    f"{path}: {img.width}x{img.height} pixels is over the limit of {max_pixels:,}; "
                    "downscale it or raise max_pixels"
                )
            if img.width == 0 or img.height == 0:
                raise ImageError(f"{path}: {img.width}x{img.height} pixels; there is nothing to embed")
            img.seek(0)  # first frame of an animation
            return to_rgb(_decode_reduced(img))
    except ImageError:
        raise
    except FileNotFoundError as e:
        raise ImageError(f"{path}: file not found") from e
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: too many pixels (decompression bomb guard)") from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{path}: not a readable image (Pillow does not recognise the content: "
                         "another kind of file, or a damaged image)") from e
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from e


def _decode_reduced(img: Image.Image) -> Image.Image:
    """Load ``img``, reduced when it has more than :data:`REDUCE_PIXELS` pixels."""
    import math

    factor = math.ceil(math.sqrt(img.width * img.height / REDUCE_PIXELS))
    if factor <= 1:
        img.load()
        return img
    if img.format == "JPEG":
        img.draft(img.mode, (img.width // factor, img.height // factor))
    img.load()
    factor = math.ceil(math.sqrt(img.width * img.height / REDUCE_PIXELS))
    if factor > 1:
        if img.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
            img = img.convert("RGBA" if img.mode in ("P", "PA", "La") else "RGB")
        img = img.reduce(factor)
    return img


IMAGE_SIZE = 224
"""The default backbone input side in pixels (EfficientNet-Lite0)."""
IMAGE_MEAN = 0.5
IMAGE_STD = 0.5
RESIZE = "pad-square-white-bicubic"
"""The one resize scheme: pad to a square on white, keeping the image centred, then bicubic."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the image backbone's input; recorded in every model folder's manifest.

    Attributes:
        image_size: The side of the square input, in pixels.
        mean: Subtracted from every channel after scaling to [0, 1].
        std: Divides every channel after the mean is subtracted.
        resize: The resize scheme; only :data:`RESIZE` exists.
    """

    image_size: int = IMAGE_SIZE
    mean: float = IMAGE_MEAN
    std: float = IMAGE_STD
    resize: str = RESIZE

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or not 8 <= self.image_size <= 4096:
            raise ValueError(f"preprocessing.image_size={self.image_size!r}: give a whole number of pixels, 8 to 4096")
        if not self.std > 0:
            raise ValueError(f"preprocessing.std={self.std!r}: must be positive")
        if self.resize != RESIZE:
            raise ValueError(f"preprocessing.resize={self.resize!r}: this ccl-embed knows only {RESIZE!r}; "
                             "upgrade ccl-embed or re-export the model")

    def __call__(self, img: Image.Image) -> np.ndarray:
        """The backbone input of one RGB image (see :func:`preprocess`)."""
        return preprocess(img, self.image_size, self.mean, self.std)


def square_pad(img: Image.Image, fill: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Pad an RGB image to a square on a plain background, keeping it centred (nothing is cropped)."""
    side = max(img.size)
    if img.width == img.height:
        return img
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas


def preprocess(img: Image.Image, size: int = IMAGE_SIZE, mean: float = IMAGE_MEAN, std: float = IMAGE_STD) -> np.ndarray:
    """The backbone input of one RGB image: padded square, resized, scaled, channels first.

    Returns:
        ``float32 [3, size, size]`` with values ``(pixel / 255 - mean) / std``.
    """
    img = square_pad(img).resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return ((arr - mean) / std).transpose(2, 0, 1).copy()
