"""Source builders on tiny fake package folders laid out like the real registry packages."""

import json
from pathlib import Path

import pytest
from PIL import Image

from ccl_embed.data import build as build_mod
from ccl_embed.data.build import build_corpus
from ccl_embed.data.corpus import read_corpus
from ccl_embed.data.sources import BuildLog, SourceOptions
from ccl_embed.data.sources import emoji, icons, openclipart
from ccl_embed.data.sources.sampling import take
from ccl_embed.data.splits import SplitConfig

BODY = '<rect width="32" height="32" fill="#f00"/>'


def fake_emoji_packages(root: Path) -> dict[str, Path]:
    dirs = {k: root / k for k in emoji.PACKAGES}
    text = dirs["text"] / "package"
    (text / "en").mkdir(parents=True)
    (text / "meta").mkdir(parents=True)
    (text / "meta" / "groups.json").write_text(json.dumps({
        "groups": {"0": "smileys-emotion", "2": "component"},
        "subgroups": {"0": "face-smiling", "1": "hair-style"}}))
    (text / "en" / "data.json").write_text(json.dumps([
        {"label": "grinning face", "hexcode": "1F600", "tags": ["face", "grin"], "group": 0, "subgroup": 0},
        {"label": "red heart", "hexcode": "2764-FE0F", "tags": ["heart"], "group": 0, "subgroup": 0},
        {"label": "red hair", "hexcode": "1F9B0", "group": 2, "subgroup": 1},
        {"label": "regional indicator A", "hexcode": "1F1E6"},
    ]))
    g = dirs["google"] / "package"
    (g / "img" / "google" / "64").mkdir(parents=True)
    Image.new("RGBA", (64, 64), (255, 200, 0, 255)).save(g / "img" / "google" / "64" / "1f600.png")
    (g / "emoji.json").write_text(json.dumps([
        {"unified": "1F600", "image": "1f600.png", "has_img_google": True},
        {"unified": "2764-FE0F", "image": "2764-fe0f.png", "has_img_google": True},  # file missing: not used
    ]))
    om = dirs["openmoji"] / "package" / "color" / "svg"
    om.mkdir(parents=True)
    (om / "2764-FE0F.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">{BODY}</svg>')
    for style in ("fluent-flat", "fluent-3d"):
        pkg = dirs[style] / "package"
        pkg.mkdir(parents=True)
        (pkg / "icons.json").write_text(json.dumps({"width": 32, "height": 32, "icons": {"grinning-face": {"body": BODY}}}))
    (dirs["fluent-flat"] / "package" / "chars.json").write_text(json.dumps({"1f600": "grinning-face"}))
    return dirs


def test_emoji_builder_pairs_styles_with_cldr_text(tmp_path):
    dirs = fake_emoji_packages(tmp_path)
    log = BuildLog()
    items = list(emoji.build(dirs, SourceOptions(), log))
    got = {(p.concept, p.style): (p.text, p.label, job.kind) for p, job in items}
    assert got == {
        ("emoji:1F600", "google"): ("grinning face. face, grin", "face-smiling", "raster"),
        ("emoji:1F600", "fluent-flat"): ("grinning face. face, grin", "face-smiling", "svg_markup"),
        ("emoji:1F600", "fluent-3d"): ("grinning face. face, grin", "face-smiling", "svg_markup"),
        ("emoji:2764", "openmoji"): ("red heart. heart", "face-smiling", "svg_file"),
    }


def test_normalize_hexcode():
    assert emoji.normalize_hexcode("2764-fe0f") == "2764"
    assert emoji.normalize_hexcode("1f9d1-200d-1f3a8") == "1F9D1-200D-1F3A8"
    assert emoji.normalize_hexcode("002A-FE0F-20E3") == "002A-20E3"


CLIP = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:cc="http://web.resource.org/cc/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 width="20" height="20"><metadata><rdf:RDF><cc:Work rdf:about="">
 <dc:title>{title}</dc:title><dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>
 <dc:creator><cc:Agent><dc:title>Jane Artist</dc:title></cc:Agent></dc:creator>
 </cc:Work></rdf:RDF></metadata><rect width="20" height="20" fill="{fill}"/></svg>"""


def _clip(path: Path, title: str, keywords: list[str], fill: str = "#0a0") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    li = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    path.write_text(CLIP.format(title=title, keywords=li, fill=fill))


def fake_openclipart(root: Path) -> dict[str, Path]:
    svg = root / "svg" / "usr" / "share" / "openclipart" / "svg"
    _clip(svg / "animals" / "cat_jane_01.svg", "Happy_Cat", ["cat", "clip art", "Jane Artist", "animals", "pet", "7"])
    _clip(svg / "animals" / "cat_jane_02.svg", "Happy cat (Sat Aug 21 2004)", ["cat"], fill="#00a")
    _clip(svg / "animals" / "dup_01.svg", "Happy_Cat", ["cat", "clip art", "Jane Artist", "animals", "pet", "7"])
    (svg / "animals" / "dup_01.svg").write_bytes((svg / "animals" / "cat_jane_01.svg").read_bytes())
    _clip(svg / "food" / "thing_01.svg", "untitled", ["svg", "public domain"])
    _clip(svg / "unsorted" / "x_01.svg", "Apple", ["fruit"])
    (svg / "food" / "broken_01.svg").write_text("<svg")
    return {"svg": root / "svg"}


def test_openclipart_cleaning_and_variants(tmp_path):
    log = BuildLog()
    items = list(openclipart.build(fake_openclipart(tmp_path), SourceOptions(), log))
    texts = {p.image: (p.text, p.label, p.concept) for p, _ in items}
    assert texts == {
        "images/openclipart/animals/cat_jane_01.png": ("happy cat. cat, pet", "animals", "openclipart:animals/cat_jane"),
        "images/openclipart/animals/cat_jane_02.png": ("happy cat. cat", "animals", "openclipart:animals/cat_jane"),
    }
    assert log.skipped == {"byte-identical duplicate": 1, "no descriptive title or keyword": 1,
                           "folder 'unsorted' has no usable category": 1, "no RDF metadata": 1}


def test_take_is_deterministic_and_capped():
    by_label = {"a": [f"a{i}" for i in range(10)], "b": ["b0", "b1"]}
    first = take(by_label, SourceOptions(per_label=3, seed=1))
    assert len(first) == 5 and first == take({"b": ["b1", "b0"], "a": list(reversed(by_label["a"]))}, SourceOptions(per_label=3, seed=1))
    assert len(take(by_label, SourceOptions(limit=4))) == 4


def test_build_corpus_end_to_end(tmp_path, monkeypatch):
    dirs = fake_emoji_packages(tmp_path / "emoji") | fake_openclipart(tmp_path / "clip")
    monkeypatch.setattr(build_mod, "fetch", lambda pkg, cache=None: next(
        d for role, d in dirs.items() if (emoji.PACKAGES | openclipart.PACKAGES).get(role) == pkg))
    out = tmp_path / "corpus"
    report = build_corpus(out, ("emoji", "openclipart"), split=SplitConfig(holdout_style="openmoji"), workers=1)
    corpus = read_corpus(out)
    assert report.pairs == len(corpus) == 6
    assert report.per_style == {"fluent-3d": 1, "fluent-flat": 1, "google": 1, "openclipart": 2, "openmoji": 1}
    assert {p.split for p in corpus.pairs if p.style == "openmoji"} == {"style"}
    assert Image.open(out / "images/emoji/fluent-flat/1F600.png").size == (256, 256)
    sources = json.loads((out / "SOURCES.json").read_text())
    assert {p["name"] for p in sources["packages"]} >= {"emojibase-data", "openclipart-svg"}
    assert all(p["license"] for p in sources["packages"])
    # A re-run reuses the rendered images and writes the same pairs.
    before = (out / "pairs.jsonl").read_text()
    build_corpus(out, ("emoji", "openclipart"), split=SplitConfig(holdout_style="openmoji"), workers=1)
    assert (out / "pairs.jsonl").read_text() == before


def test_unknown_source_lists_the_choices(tmp_path):
    with pytest.raises(Exception, match="unknown source 'flickr'; choose from: emoji, icons, openclipart, photos"):
        build_corpus(tmp_path, ("flickr",))


def test_photos_source_keeps_its_own_split(tmp_path):
    from ccl_embed.data.sources import photos

    dirs = {key: tmp_path / key for key in photos.PACKAGES}
    data = dirs["photos"] / "skimage" / "data"
    data.mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 100, 0)).save(data / "chelsea.png")
    val = dirs["scikit-learn"] / "sklearn" / "datasets" / "images"
    val.mkdir(parents=True)
    Image.new("RGB", (8, 8), (0, 100, 200)).save(val / "flower.jpg")
    log = BuildLog()
    items = list(photos.build(dirs, SourceOptions(), log))
    assert [(p.text, p.split, p.label, p.image) for p, _ in items] == [
        (photos.CAPTIONS["chelsea.png"], "photos", "photo:chelsea", "images/photos/chelsea.png"),
        (photos.VAL_CAPTIONS[("scikit-learn", "flower.jpg")], "photos-val", "photo:flower", "images/photos-val/flower.png"),
    ]
    assert log.skipped and log.skipped.get("coffee.png missing from the package scikit-image") == 1
    assert log.skipped.get("apple.jpg missing from the package opencv-doc") == 1
    from ccl_embed.data.splits import assign_splits

    assert [p.split for p in assign_splits([p for p, _ in items], SplitConfig(holdout_style="photo"))] == ["photos", "photos-val"]


def test_new_emoji_styles_match_by_code_point_table_or_cldr_name(tmp_path):
    """3D renders come as WebP by code point; Iconify sets match by their own table, the Fluent
    names or the CLDR name in kebab case; an icon with another name is left out."""
    dirs = fake_emoji_packages(tmp_path)
    render = dirs["fluent-render"] / "package" / "assets"
    render.mkdir(parents=True)
    Image.new("RGBA", (32, 32), (200, 100, 0, 255)).save(render / "2764-fe0f.webp")
    contrast = dirs["fluent-contrast"] / "package"
    contrast.mkdir(parents=True)
    (contrast / "icons.json").write_text(json.dumps({"width": 32, "height": 32, "icons": {"heart-red": {"body": BODY}}}))
    (contrast / "chars.json").write_text(json.dumps({"2764-fe0f": "heart-red"}))
    blobs = dirs["noto-v1"] / "package"
    blobs.mkdir(parents=True)
    (blobs / "icons.json").write_text(json.dumps({"icons": {"red-heart": {"body": BODY}, "grinning-face": {"body": BODY},
                                                            "2hearts": {"body": BODY}}}))
    log = BuildLog()
    items = list(emoji.build(dirs, SourceOptions(), log))
    got = {(p.concept, p.style): job.kind for p, job in items}
    assert (log.skipped or {}).get("noto-v1: icon name matches no emoji") == 1  # "2hearts", counted
    assert got[("emoji:2764", "fluent-render")] == "raster"
    assert got[("emoji:2764", "fluent-contrast")] == "svg_markup"  # its own table
    assert got[("emoji:2764", "noto-v1")] == "svg_markup"  # CLDR "red heart" -> red-heart
    assert got[("emoji:1F600", "noto-v1")] == "svg_markup"  # the Fluent name
    assert {s for c, s in got if s == "emojione"} == set()  # not fetched here: skipped, not an error
    assert len([k for k in got if k[1] == "noto-v1"]) == 2  # "2hearts" matches no emoji


def test_kebab_names():
    assert emoji.kebab("A button (blood type)") == "a-button-blood-type"
    assert emoji.kebab("man’s shoe") == "mans-shoe"
    assert emoji.kebab("flag: Germany") == "flag-germany"


def fake_icon_sets(root: Path) -> dict[str, Path]:
    sets = {
        "flat-color-icons": {"alarm-clock": BODY, "about": BODY},
        "fluent-color": {"alarm-clock-16": BODY, "alarm-clock-48": '<circle r="9" fill="#00f"/>', "beach-24": BODY},
        "streamline-color": {"alarm-clock-1": BODY, "alarm-clock-2": BODY, "pizza-slice": BODY},
    }
    dirs = {style: root / style for style in sets}
    for style, body in sets.items():
        pkg = dirs[style] / "package"
        pkg.mkdir(parents=True)
        (pkg / "icons.json").write_text(json.dumps({"width": 24, "height": 24,
                                                    "icons": {n: {"body": b} for n, b in body.items()}}))
    (dirs["streamline-color"] / "package" / "metadata.json").write_text(json.dumps(
        {"categories": {"InterfaceEssential": ["alarm-clock-1", "alarm-clock-2"], "FoodDrinks": ["pizza-slice"]}}))
    return dirs


def test_icon_sets_share_concepts_by_name_and_label_them_by_category(tmp_path):
    items = list(icons.build(fake_icon_sets(tmp_path), SourceOptions(), BuildLog()))
    got = sorted((p.concept, p.style, p.text, p.label, p.image) for p, _ in items)
    assert got == [
        ("icons:about", "flat-color-icons", "about", None, "images/icons/flat-color-icons/about.png"),
        ("icons:alarm-clock", "flat-color-icons", "alarm clock", "interface-essential",
         "images/icons/flat-color-icons/alarm-clock.png"),
        # Of a Fluent icon drawn at several sizes, only the largest drawing is kept.
        ("icons:alarm-clock", "fluent-color", "alarm clock", "interface-essential",
         "images/icons/fluent-color/alarm-clock-48.png"),
        # Streamline's numbered variants are one concept, each its own image.
        ("icons:alarm-clock", "streamline-color", "alarm clock", "interface-essential",
         "images/icons/streamline-color/alarm-clock-1.png"),
        ("icons:alarm-clock", "streamline-color", "alarm clock", "interface-essential",
         "images/icons/streamline-color/alarm-clock-2.png"),
        ("icons:beach", "fluent-color", "beach", None, "images/icons/fluent-color/beach-24.png"),
        ("icons:pizza-slice", "streamline-color", "pizza slice", "food-drinks",
         "images/icons/streamline-color/pizza-slice.png"),
    ]
    fluent = next(job for p, job in items if p.style == "fluent-color" and p.concept == "icons:alarm-clock")
    assert "circle" in fluent.source and fluent.kind == "svg_markup"


def test_icon_names_and_categories_in_words():
    assert icons.icon_text("accounting-bill-stack-1") == "accounting bill stack"
    assert icons.icon_text("add-circle-32") == "add circle"
    assert icons.icon_text("3d-glasses") == "3d glasses"
    assert icons.category_label("ComputersDevicesElectronics") == "computers-devices-electronics"
