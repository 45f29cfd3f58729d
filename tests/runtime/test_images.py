import io

import numpy as np
import pytest
from PIL import Image

from ccl_embed.runtime.images import ImageError, load_image, preprocess, render_svg, square_pad

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10"><rect width="20" height="10" fill="#ff0000"/></svg>'


def test_rgba_is_flattened_on_white(tmp_path):
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    img.save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 0, 0) and out.getpixel((3, 3)) == (255, 255, 255)


def test_palette_with_transparency_grey_and_16_bit(tmp_path):
    p = Image.new("P", (2, 2), 0)
    p.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    assert load_image(tmp_path / "p.png").getpixel((0, 0)) == (255, 255, 255)
    Image.new("L", (2, 2), 77).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").getpixel((1, 1)) == (77, 77, 77)
    Image.fromarray(np.full((2, 2), 65535, dtype=np.uint16)).save(tmp_path / "16.png")
    assert load_image(tmp_path / "16.png").getpixel((0, 0)) == (255, 255, 255)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    r, g, b = load_image(tmp_path / "a.gif").getpixel((0, 0))
    assert r > 200 and g < 50


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (4, 2), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "o.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "o.jpg").size == (2, 4)


def test_svg_renders_to_requested_longer_side(tmp_path):
    (tmp_path / "a.svg").write_text(SVG)
    img = load_image(tmp_path / "a.svg")
    assert img.size == (256, 128) and img.getpixel((10, 10)) == (255, 0, 0)
    tall = render_svg(SVG.replace('viewBox="0 0 20 10"', 'viewBox="0 0 10 20"'), 64, markup=True)
    assert tall.size == (32, 64)


@pytest.mark.parametrize("content, match", [
    (b"", "empty file"),
    (b"this is text renamed .png", "not a readable image \\(Pillow does not recognise"),
    (b"\x89PNG\r\n\x1a\n cut short", "not a readable image"),
])
def test_bad_files_name_the_file(tmp_path, content, match):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(ImageError, match=rf"bad.png: {match}"):
        load_image(tmp_path / "bad.png")


def test_truncated_png_and_missing_file(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    (tmp_path / "t.png").write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageError, match="t.png"):
        load_image(tmp_path / "t.png")
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "none.png")
    (tmp_path / "bad.svg").write_text("<svg")
    with pytest.raises(ImageError, match="bad.svg: SVG could not be rendered"):
        load_image(tmp_path / "bad.svg")


def test_pixel_bomb_is_refused(tmp_path):
    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="300x300 pixels is over the limit of 10,000"):
        load_image(tmp_path / "big.png", max_pixels=10_000)


def test_preprocess_pads_without_cropping():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    assert square_pad(img).size == (40, 40)
    x = preprocess(img, size=8)
    assert x.shape == (3, 8, 8) and x.dtype == np.float32
    assert x[:, 0, 0].tolist() == [1.0, 1.0, 1.0]  # white padding -> (1 - 0.5) / 0.5
    assert x[:, 4, 4].tolist() == [-1.0, -1.0, -1.0]  # black content


