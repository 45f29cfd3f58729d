"""Commands that build corpora and models: data build and augment, train, info, export, calibrate, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccl_embed.cli.app import app, data_app
from ccl_embed.cli.output import fail, peak_memory_gib, printable, progress_bar
from ccl_embed.errors import CCLEmbedError


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
            progress=progress_bar,
        )
    except (CCLEmbedError, ValueError) as e:
        raise fail(str(e)) from None
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
        n, added = augment_corpus(corpus, out, copies=copies, seed=seed, progress=progress_bar)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(f"wrote {out}: {n} pairs of {corpus} and {added} augmented training pairs")


@app.command()
def train(
    folder: Annotated[Path, typer.Argument(help="Any folder ingest reads: images with a same-name .txt caption, or a pairs.jsonl (labels and splits optional; split by concept without them).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The model folder to write; it serves directly (--model DIR).")],
    base: Annotated[Optional[str], typer.Option("--from", help="Fine-tune this model: 'default' or a model folder. Left out: train the recipe from scratch.")] = None,
    fit_on: Annotated[str, typer.Option(help="train: the test concepts stay unseen (scored at the end); all: train on every pair.")] = "train",
    config: Annotated[Optional[Path], typer.Option(help="A JSON file of settings on top of the recipe's or the base's (sections or fields by name).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, batch order and dropout.")] = 0,
    replay: Annotated[Optional[Path], typer.Option(help="Mix in as many pairs of this corpus's train split (say the base's own, from `ccl-embed data build`) as FOLDER trains on, to forget less.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --out.")] = False,
    text_feature: Annotated[str, typer.Option(help="Text tower: minilm, or bow (a bag of words, for research; the folder is then not exported).")] = "minilm",
) -> None:
    """Train on your own folder, or fine-tune a model on it, and write a model folder that serves directly."""
    try:
        overrides = json.loads(config.read_text()) if config else {}
        if not isinstance(overrides, dict):
            raise ValueError(f"{config}: expected a JSON object of settings")
        if text_feature != "minilm":
            if base is not None or replay is not None:
                raise CCLEmbedError("--from and --replay train the folder that serves, with the minilm text tower; "
                                    "leave out --text-feature")
            from ccl_embed.train import train_model

            trained = train_model(folder, out, overrides=overrides | {"seed": seed}, resume=resume,
                                  text_feature=text_feature, fit_on=fit_on, progress=progress_bar)
            typer.echo(f"wrote {out}")
            if trained.val is not None:
                typer.echo(f"  validation MAP image->text {trained.val.i2t_map:.4f}  text->image {trained.val.t2i_map:.4f}")
            return
        from ccl_embed.train import fine_tune

        result = fine_tune(folder, out, base=base, seed=seed, fit_on=fit_on, replay=replay, resume=resume,
                           overrides=overrides, progress=progress_bar)
    except json.JSONDecodeError as e:
        raise fail(f"{config}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    peak = peak_memory_gib()
    typer.echo(f"wrote {printable(out)} in {result.seconds:.0f} s" + (f", peak memory {peak:.1f} GiB" if peak else "")
               + f" ({'fine-tuned from ' + base if base else 'from scratch'}); "
               "pairs: " + ", ".join(f"{k} {v}" for k, v in sorted(result.pairs.items())))
    if result.skipped:
        typer.echo(f"  skipped {len(result.skipped)}: " + "; ".join(printable(str(p)) for p in result.skipped[:3])
                   + (" ..." if len(result.skipped) > 3 else ""))
    t = result.test
    typer.echo(f"  test ({t.n_images} images): " + (f"MAP {t.mean_map:.4f}  " if not result.map_missing else "")
               + f"R@1 {(t.r1_i2t + t.r1_t2i) / 2:.3f}  R@10 {(t.r10_i2t + t.r10_t2i) / 2:.3f} (mean of both directions)")
    if result.map_missing:
        typer.echo(f"  {result.map_missing}")
    typer.echo(f"  use it: ccl-embed ingest DIR --model {printable(out)}")


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
        raise fail(str(e)) from None
    typer.echo(f"ccl-embed {__version__}, onnxruntime {m.onnxruntime}")
    typer.echo(f"model: {m.name} ({m.folder})")
    typer.echo(f"  embedding: {m.dim}-d, {m.distance}; int8 parts: {list(m.quantized_int8) or 'none'}")
    for key, label in (("test", "test"), ("test_seen_in_training", "test (seen in training: a release refit)")):
        test = m.metrics.get(key)
        if test and test.get("i2t_map") is not None:
            typer.echo(f"  {label} MAP image->text {test['i2t_map']:.4f}, text->image {test['t2i_map']:.4f}")
        elif test:
            typer.echo(f"  {label} R@10 image->text {test['r10_i2t']:.3f}, text->image {test['r10_t2i']:.3f} "
                       f"({test.get('map_missing', 'no MAP')})")
    typer.echo(f"device: {m.device} (asked: {m.asked_device}; available providers: {', '.join(m.providers)})")
    for graph, placed in m.graphs.items():
        nodes = ", ".join(f"{n} on {p.removesuffix('ExecutionProvider')}" for p, n in placed["nodes"].items())
        ran = f"; nodes: {nodes}" if nodes else f" on the {m.device.upper()}"
        fell = f"; on the CPU instead: {', '.join(placed['fallbacks'])}" if placed["fallbacks"] else ""
        typer.echo(f"  {graph:20s} {placed['form']}{ran}{fell}")
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
        raise fail(f"{e}; export needs: pip install 'ccl-embed[export]'") from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
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
        raise fail(f"--split given {len(splits)} times for {len(corpora)} corpora: give one for all, or one per corpus")
    splits = splits * len(corpora) if len(splits) == 1 else splits
    for name in splits:
        if "val" not in name:
            raise fail(f"--split {name!r}: calibrate on a validation split (val, style-val, photos-val...), never on a test split")
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
        raise fail(str(e)) from None
    for key, (mean, std) in calibration.items():
        typer.echo(f"  {key:11s} cosine of related pairs {mean:+.4f} +- {std:.4f}")
    measured = ", ".join(f"{len(p.pairs)} pairs of {n!r}" for p, n in zip(parts, splits))
    typer.echo(f"calibrated {printable(model)} on {printable(measured)}")


@app.command()
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="Any folder ingest reads (split by concept as train splits it), or a corpus with splits.")],
    method: Annotated[str, typer.Option(help="What to score: ccl, an ablation (ccl-no-patches...), cca, infonce or conse; fitted on the train split.")] = "ccl",
    split: Annotated[str, typer.Option(help="The split to score: test, val, or a held-out style (style-val, style, style-val-3d, style-3d).")] = "test",
    text_feature: Annotated[str, typer.Option(help="Text tower: minilm or bow (bag of words).")] = "minilm",
    seed: Annotated[int, typer.Option(help="Seed of training.")] = 0,
    model: Annotated[Optional[str], typer.Option(help="Score this model instead of fitting a method: 'default' or a model folder (exported ones run through the runtime).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")] = False,
) -> None:
    """Score a method on a corpus split: MAP both ways (category relevance), R@1/5/10 and median rank."""
    try:
        from ccl_embed.train import evaluate as evaluate_corpus

        result = evaluate_corpus(corpus, method=method, split=split, text_feature=text_feature, seed=seed,
                                 model=model, progress=progress_bar)
    except (CCLEmbedError, ValueError) as e:
        raise fail(str(e)) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    scores = result.scores
    typer.echo(f"{result.method} on {split} ({scores.n_images} images, {scores.n_texts} texts)")
    if result.map_missing:
        typer.echo(f"  {result.map_missing}")
    else:
        typer.echo(f"  MAP  image->text {scores.i2t_map:.4f}  text->image {scores.t2i_map:.4f}  mean {scores.mean_map:.4f}")
    typer.echo(f"  R@1/5/10 image->text {scores.r1_i2t:.3f}/{scores.r5_i2t:.3f}/{scores.r10_i2t:.3f}  "
               f"text->image {scores.r1_t2i:.3f}/{scores.r5_t2i:.3f}/{scores.r10_t2i:.3f}")
    typer.echo(f"  median rank image->text {scores.medr_i2t:g}  text->image {scores.medr_t2i:g}")
