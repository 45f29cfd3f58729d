"""A small photo sanity set: real photographs shipped in scikit-image, with captions written here.

The corpora are pictograms; users will ingest photographs. This set checks that training does
not wash out what the ImageNet tower knows about photos. The photographs are CC0 or public
domain (their notices are in ``skimage/data/_fetchers.py``); the captions are this project's own.
Each photo is its own category: retrieval here is instance retrieval. The scikit-image photos
are the ``photos`` split, which is reported and never tuned on; photographs from two other
packages (OpenCV's sample data in Debian's ``opencv-doc``, scikit-learn's two sample images) are
the ``photos-val`` split, the only photos that choices are tuned on. Nothing here is trained on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions

PACKAGES = {
    "photos": Package("pypi", "scikit-image", "0.26.0", "CC0-1.0 / public domain (images); BSD-3-Clause (code)",
                      "https://scikit-image.org (skimage/data)", "photo sanity set (reported)"),
    "opencv-doc": Package("debian", "opencv-doc", "4.6.0+dfsg-12", "Apache-2.0 (Debian copyright, Files: *)",
                          "https://opencv.org (samples/data, as packaged by Debian)", "photo validation set (tuning only)"),
    "scikit-learn": Package("pypi", "scikit-learn", "1.9.1", "CC-BY-2.0 (danielbuechele, vultilion on Flickr; see README.txt)",
                            "https://scikit-learn.org (sklearn/datasets/images)", "photo validation set (tuning only)"),
}

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
"""The reported sanity set (``photos`` split): scikit-image's photographs."""

VAL_CAPTIONS: dict[tuple[str, str], str] = {
    ("opencv-doc", "aero1.jpg"): "an aerial view of a town by the sea",
    ("opencv-doc", "apple.jpg"): "a shiny red apple",
    ("opencv-doc", "baboon.jpg"): "the face of a mandrill with a red nose and blue cheeks",
    ("opencv-doc", "basketball1.png"): "two people throwing a ball in an office corridor",
    ("opencv-doc", "board.jpg"): "a green electronic circuit board with chips",
    ("opencv-doc", "building.jpg"): "a modern hotel building with many windows",
    ("opencv-doc", "butterfly.jpg"): "a black and white butterfly on a green leaf",
    ("opencv-doc", "fruits.jpg"): "sliced oranges, limes and kiwi fruit",
    ("opencv-doc", "home.jpg"): "a yellow palace with a tower under a blue sky",
    ("opencv-doc", "messi5.jpg"): "a football player kicking a ball on a pitch",
    ("opencv-doc", "orange.jpg"): "a single orange",
    ("opencv-doc", "leuvenA.jpg"): "old brick houses around a cobbled square",
    ("opencv-doc", "licenseplate_motion.jpg"): "the back of a silver car, blurred by motion",
    ("opencv-doc", "chicky_512.png"): "a small fluffy dog with its mouth open",
    ("opencv-doc", "smarties.png"): "colourful round sweets on a white table",
    ("opencv-doc", "squirrel_cls.jpg"): "a red squirrel on a tree branch",
    ("opencv-doc", "stuff.jpg"): "a pen, a lighter and two round lids on a table",
    ("opencv-doc", "aloeL.jpg"): "an aloe plant in a clay pot",
    ("opencv-doc", "ela_original.jpg"): "a black notebook with a green elastic band",
    ("scikit-learn", "china.jpg"): "a chinese pagoda on a hill by a lake",
    ("scikit-learn", "flower.jpg"): "an orange dahlia flower",
}
"""The photo validation set (``photos-val`` split): other registry packages' photographs, used
only to tune choices that concern photos (never trained on, never reported as a result)."""

_FOLDERS = {
    "photos": "skimage/data",
    "opencv-doc": "usr/share/doc/opencv-doc/examples/data",
    "scikit-learn": "sklearn/datasets/images",
}


def _entries() -> Iterator[tuple[str, str, str, str]]:
    """(package key, file name, caption, split) of every photo."""
    for name, caption in CAPTIONS.items():
        yield "photos", name, caption, "photos"
    for (key, name), caption in VAL_CAPTIONS.items():
        yield key, name, caption, "photos-val"


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """One pair per photo, its own category, in the ``photos`` or ``photos-val`` split."""
    for key, name, caption, split in _entries():
        src = dirs[key] / _FOLDERS[key] / name
        if not src.exists():
            log.skip(f"{name} missing from the package {PACKAGES[key].name}")
            continue
        stem = Path(name).stem
        folder, concept = ("photos", stem) if split == "photos" else ("photos-val", f"val/{stem}")
        dest = f"images/{folder}/{stem}.png"
        yield (Pair(image=dest, text=caption, label=f"photo:{stem}", concept=f"photos:{concept}", style="photo", split=split),
               ImageJob("raster", str(src), dest))


PHOTOS = Source(
    name="photos",
    description=("17 CC0 / public-domain photographs from scikit-image (reported) and 21 from OpenCV and "
                 "scikit-learn (validation), with captions written here; never trained on"),
    packages=PACKAGES,
    build=build,
)
