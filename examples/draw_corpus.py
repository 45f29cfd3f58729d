"""Draws the example corpus in examples/corpus: simple pictures made here with Pillow (no third-party
artwork), each with a caption in a .txt of the same name, plus two notes without a picture.

    python examples/draw_corpus.py

The pictures are this project's own work, released under CC0 1.0 (see examples/README.md).
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "corpus"
S = 256
WHITE = True
"""Pictograms on white, like the emoji and clip-art the default model was trained on (a scene's own
background colour is kept only when this is False)."""


def canvas(bg=(255, 255, 255)):
    bg = (255, 255, 255) if WHITE else bg
    img = Image.new("RGB", (S, S), bg)
    return img, ImageDraw.Draw(img)


def apple():
    img, d = canvas()
    d.ellipse([48, 70, 208, 230], fill=(200, 20, 30))
    d.rectangle([124, 40, 134, 80], fill=(90, 50, 20))
    d.ellipse([136, 40, 190, 70], fill=(40, 160, 40))
    return img, "a red apple with a green leaf"


def sun():
    img, d = canvas((150, 200, 255))
    for k in range(12):
        a = k * math.pi / 6
        d.line([128 + 70 * math.cos(a), 128 + 70 * math.sin(a), 128 + 115 * math.cos(a), 128 + 115 * math.sin(a)],
               fill=(255, 200, 0), width=10)
    d.ellipse([68, 68, 188, 188], fill=(255, 215, 0))
    return img, "the yellow sun shining in a blue sky"


def tree():
    img, d = canvas()
    d.rectangle([112, 150, 144, 240], fill=(110, 70, 30))
    d.ellipse([48, 30, 208, 180], fill=(30, 150, 50))
    return img, "a green tree with a brown trunk"


def car():
    img, d = canvas()
    d.rectangle([30, 120, 226, 180], fill=(30, 80, 200))
    d.polygon([(70, 120), (100, 80), (170, 80), (200, 120)], fill=(30, 80, 200))
    d.polygon([(105, 88), (130, 88), (130, 118), (85, 118)], fill=(200, 230, 255))
    d.polygon([(138, 88), (165, 88), (188, 118), (138, 118)], fill=(200, 230, 255))
    for x in (75, 180):
        d.ellipse([x - 24, 160, x + 24, 208], fill=(20, 20, 20))
        d.ellipse([x - 10, 174, x + 10, 194], fill=(180, 180, 180))
    return img, "a blue car"


def house():
    img, d = canvas()
    d.rectangle([60, 120, 196, 230], fill=(230, 200, 150))
    d.polygon([(40, 125), (128, 45), (216, 125)], fill=(170, 40, 30))
    d.rectangle([112, 170, 144, 230], fill=(110, 60, 30))
    d.rectangle([76, 140, 104, 165], fill=(150, 200, 255))
    d.rectangle([152, 140, 180, 165], fill=(150, 200, 255))
    return img, "a house with a red roof"


def fish():
    img, d = canvas((210, 235, 255))
    d.ellipse([50, 90, 190, 170], fill=(255, 130, 0))
    d.polygon([(180, 130), (230, 90), (230, 170)], fill=(255, 130, 0))
    d.ellipse([80, 115, 96, 131], fill=(0, 0, 0))
    return img, "an orange fish swimming in water"


def heart():
    img, d = canvas()
    d.ellipse([50, 60, 134, 144], fill=(230, 20, 60))
    d.ellipse([122, 60, 206, 144], fill=(230, 20, 60))
    d.polygon([(54, 116), (202, 116), (128, 215)], fill=(230, 20, 60))
    return img, "a red heart, a sign of love"


def star():
    img, d = canvas((20, 20, 60))
    pts = []
    for k in range(10):
        r = 110 if k % 2 == 0 else 45
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((128 + r * math.cos(a), 128 + r * math.sin(a)))
    d.polygon(pts, fill=(255, 220, 40))
    return img, "a yellow star at night"


def moon():
    img, d = canvas((15, 20, 50))
    d.ellipse([60, 50, 200, 190], fill=(245, 240, 200))
    d.ellipse([95, 35, 235, 175], fill=(15, 20, 50))
    return img, "a crescent moon in the night sky"


def flower():
    img, d = canvas()
    d.rectangle([124, 130, 132, 240], fill=(40, 140, 40))
    for k in range(6):
        a = k * math.pi / 3
        x, y = 128 + 45 * math.cos(a), 100 + 45 * math.sin(a)
        d.ellipse([x - 30, y - 30, x + 30, y + 30], fill=(240, 100, 180))
    d.ellipse([103, 75, 153, 125], fill=(255, 210, 0))
    return img, "a pink flower"


def umbrella():
    img, d = canvas()
    d.pieslice([30, 50, 226, 210], 180, 360, fill=(120, 40, 170))
    d.line([128, 130, 128, 220], fill=(60, 60, 60), width=6)
    d.arc([100, 200, 128, 236], 0, 180, fill=(60, 60, 60), width=6)
    for x in range(40, 220, 30):
        d.line([x, 40, x - 10, 70], fill=(80, 120, 220), width=3)
    return img, "an umbrella in the rain"


def coffee():
    img, d = canvas()
    d.rectangle([60, 100, 170, 210], fill=(250, 250, 250), outline=(60, 60, 60), width=4)
    d.rectangle([66, 106, 164, 130], fill=(90, 50, 20))
    d.arc([150, 120, 210, 180], 270, 90, fill=(60, 60, 60), width=8)
    for x in (90, 115, 140):
        d.arc([x - 10, 50, x + 10, 90], 90, 270, fill=(150, 150, 150), width=3)
    return img, "a hot cup of coffee"


PICTURES = [apple, sun, tree, car, house, fish, heart, star, moon, flower, umbrella, coffee]
NOTES = {"notes/garden.md": "# Garden\n\nIn spring the garden is full of flowers, trees and birds.\n",
         "notes/trip.txt": "Drove to the sea by car, then watched the moon and the stars on the beach.\n"}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for make in PICTURES:
        img, caption = make()
        img.save(OUT / f"{make.__name__}.png", optimize=True)
        (OUT / f"{make.__name__}.txt").write_text(caption + "\n")
    for rel, text in NOTES.items():
        (OUT / rel).parent.mkdir(exist_ok=True)
        (OUT / rel).write_text(text)
    print(f"wrote {len(PICTURES)} pictures with captions and {len(NOTES)} notes to {OUT}")


if __name__ == "__main__":
    main()
