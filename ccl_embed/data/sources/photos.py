"""A small photo sanity set: real photographs shipped in scikit-image, with captions written here.

The corpora are pictograms; users will ingest photographs. This set checks that training does
not wash out what the ImageNet tower knows about photos. The photographs are CC0 or public
domain (their notices are in ``skimage/data/_fetchers.py``); the captions are this project's own.
Each photo is its own category: retrieval here is instance retrieval among 17 items. Every pair
is in the ``photos`` split; nothing here is ever trained on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions

PACKAGES = {"photos": Package("pypi", "scikit-image", "0.26.0", "CC0-1.0 / public domain (images); BSD-3-Clause (code)",
                              "https://scikit-image.org (skimage/data)", "photo sanity set")}

CAPTIONS: dict[str, str] = {
    "astronaut.png": "an astronaut in a white spacesuit smiling in front of a flag",
    "brick.png": "a grey wall of bricks",
    "camera.png": "a black and white photo of a man looking through a camera on a tripod",
    "cell.png": "a single cell seen under a microscope",
    "chelsea.png": "a ginger tabby cat looking to the side",
    "clock_motion.png": "a round wall clock, blurred by motion",
    "coffee.png": "a cup of coffee on a saucer with a spoon",
    "coins.png": "many old coins on a dark background",
    "grass.png": "a close-up of grass blades",
    "gravel.png": "a close-up of grey gravel stones",
    "horse.png": "the black silhouette of a horse",
    "hubble_deep_field.jpg": "a deep space telescope image full of distant galaxies",
    "ihc.png": "a stained tissue sample under a microscope",
    "moon.png": "the surface of the moon with craters",
    "motorcycle_left.png": "a red motorcycle parked in a garage",
    "retina.jpg": "a photograph of the back of a human eye with blood vessels",
    "rocket.jpg": "a rocket standing on the launch pad",
}


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """One pair per photo, its own category, all in the ``photos`` split."""
    data = dirs["photos"] / "skimage" / "data"
    for name, caption in CAPTIONS.items():
        src = data / name
        if not src.exists():
            log.skip(f"{name} missing from the package")
            continue
        stem = Path(name).stem
        dest = f"images/photos/{stem}.png"
        yield (Pair(image=dest, text=caption, label=f"photo:{stem}", concept=f"photos:{stem}", style="photo", split="photos"),
               ImageJob("raster", str(src), dest))


PHOTOS = Source(
    name="photos",
    description="17 CC0 / public-domain photographs from scikit-image with captions written here (evaluation only)",
    packages=PACKAGES,
    build=build,
)
