"""Writes the example corpus in examples/corpus from two Debian packages, with this project's captions.

    python examples/make_corpus.py

- Nine photographs (JPEG, 800 px on the longer side) from Debian's ``lomiri-wallpapers-16.04``:
  only those under CC-BY-4.0 or CC0-1.0, each credited in examples/README.md.
- Seven clip-art drawings (PNG, 256 px, on white) from Debian's ``openclipart-svg`` (public
  domain), all from its ``unsorted`` folder, which the training corpora never read (see
  docs/data.md), so the shipped model has never seen them.
- Each picture's caption, written here after looking at it, in a ``.txt`` of the same name, and
  two notes without a picture (``notes/``).

Nothing here is tuned on: the example corpus only shows what the shipped model does.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ccl_embed.data.fetch import Package, fetch
from ccl_embed.runtime.images import render_svg, to_rgb

OUT = Path(__file__).resolve().parent / "corpus"

WALLPAPERS = Package("debian", "lomiri-wallpapers-16.04", "20.04.0-2", "CC-BY-4.0 / CC0-1.0 (the files used here)",
                     "https://gitlab.com/ubports (Lomiri wallpapers, as packaged by Debian)", "example corpus photographs")
CLIPART = Package("debian", "openclipart-svg", "1:0.18+dfsg-19", "CC0-1.0", "https://openclipart.org (public domain dedication)",
                  "example corpus clip-art")

PHOTOS: dict[str, tuple[str, str]] = {  # name: (file in the package, caption)
    "fig.jpg": ("Picture_0B_by_freespace.jpg", "a fig cut in half in a red bowl"),
    "brushes.jpg": ("Picture_1A_by_freespace.jpg", "paint brushes with colourful bristles"),
    "drum.jpg": ("Wine_by_Jakkub_Mede.jpg", "a djembe drum on a beanbag in a living room"),
    "autumn.jpg": ("aitzgorri_by_Aitzol_Berasategi.jpg", "a mountain above an autumn forest and a green meadow"),
    "dogs.jpg": ("friends_by_Aitzol_Berasategi.jpg", "two brown dogs looking out of a wooden house"),
    "stream.jpg": ("life_by_Aitzol_Berasategi.jpg", "a stream running over rocks in a forest"),
    "trail.jpg": ("picosdeeuropa_by_Aitzol_Berasategi.jpg", "a trail through a meadow towards rocky snowy mountains"),
    "dandelions.jpg": ("seeding_by_Clements_Engelhardt.jpg", "dandelion seed heads in a field"),
    "sunset.jpg": ("sunset_by_Aitzol_Berasategi.jpg", "the sun setting over hills"),
}
DRAWINGS: dict[str, tuple[str, str]] = {
    "ambulance.png": ("ambulanza.svg", "an ambulance with a red cross"),
    "penguin.png": ("Pinguino1.svg", "a penguin standing"),
    "elephant.png": ("elefantone.svg", "a grey elephant"),
    "chainsaw.png": ("motosega.svg", "a red chainsaw"),
    "tent.png": ("tenda_da_campeggio_archi_01.svg", "an orange camping tent"),
    "backpack.png": ("zaino_per_montagna.svg", "an orange hiking backpack"),
    "rose.png": ("rosa1.svg", "a pink rose"),
}
NOTES = {
    "notes/garden.md": "# Garden\n\nIn spring the garden is full of dandelions, roses and bees.\n",
    "notes/trip.txt": "Hiked up the mountain trail with the dogs, camped in the tent and watched the sunset.\n",
}


def main() -> None:
    photos = fetch(WALLPAPERS) / "usr" / "share" / "backgrounds"
    clipart = fetch(CLIPART) / "usr" / "share" / "openclipart" / "svg" / "unsorted"
    (OUT / "notes").mkdir(parents=True, exist_ok=True)
    for name, (source, _) in PHOTOS.items():
        with Image.open(photos / source) as img:
            img = img.convert("RGB")
            img.thumbnail((800, 800), Image.Resampling.LANCZOS)
            img.save(OUT / name, quality=85, optimize=True)
    for name, (source, _) in DRAWINGS.items():
        to_rgb(render_svg(clipart / source, 256)).save(OUT / name, optimize=True)  # flattened on white
    for name, (_, caption) in (PHOTOS | DRAWINGS).items():
        (OUT / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
    for name, text in NOTES.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(PHOTOS)} photographs, {len(DRAWINGS)} drawings and {len(NOTES)} notes to {OUT}")


if __name__ == "__main__":
    main()
