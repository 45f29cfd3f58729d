"""The ``ccl-embed`` command line: a thin layer that parses, calls the library and prints.

Exit codes: 0 success, 1 when some items were skipped, 2 on usage or input errors.
No traceback reaches the user: every expected error is printed as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccl_embed.errors import CCLEmbedError

app = typer.Typer(
    name="ccl-embed",
    help="CCL image-text embeddings for Qdrant: build corpora, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build training corpora from registry packages.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _tqdm(iterable: Iterable[object], total: int, desc: str) -> Iterable[object]:
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="item", file=sys.stderr)


@data_app.command("build")
def data_build(
    sources: Annotated[Optional[list[str]], typer.Argument(help="Sources to build: emoji, openclipart (default: both).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The corpus folder to write.")] = Path("corpus"),
    seed: Annotated[int, typer.Option(help="Seed of the concept splits and of sampling.")] = 0,
    holdout_style: Annotated[str, typer.Option(help="Art style held out whole as the 'style' split ('' for none).")] = "openmoji",
    val_style: Annotated[str, typer.Option(help="Art style held out whole for validation as 'style-val' ('' for none).")] = "google",
    per_label: Annotated[Optional[int], typer.Option(help="Keep at most this many concepts per category (0: no cap).")] = 250,
    limit: Annotated[Optional[int], typer.Option(help="Keep at most this many concepts per source.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Processes that render images (default: all cores).")] = None,
) -> None:
    """Fetch the source packages, render their images and write a split corpus folder."""
    from ccl_embed.data.build import DEFAULT_SOURCES, build_corpus
    from ccl_embed.data.sources import SourceOptions
    from ccl_embed.data.splits import SplitConfig

    try:
        report = build_corpus(
            out,
            tuple(sources or DEFAULT_SOURCES),
            split=SplitConfig(seed=seed, holdout_style=holdout_style or None, val_style=val_style or None),
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
    from ccl_embed.train.pipeline import train_model

    try:
        overrides = json.loads(config.read_text()) if config else {}
        if not isinstance(overrides, dict):
            raise ValueError(f"{config}: expected a JSON object of CCLConfig fields")
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
    import warnings

    from ccl_embed import __version__
    from ccl_embed.runtime.embedder import Embedder

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            emb = Embedder(model, device=device)
            real = emb.device
    except (CCLEmbedError, ValueError, OSError) as e:
        raise _fail(str(e)) from None
    import onnxruntime

    runtime = emb.model.record["runtime"]
    typer.echo(f"ccl-embed {__version__}, onnxruntime {onnxruntime.__version__}")
    typer.echo(f"model: {emb.model.name} ({emb.model.folder})")
    typer.echo(f"  embedding: {emb.dim}-d, {emb.model.distance}; int8 parts: {runtime.get('quantized_int8') or 'none'}")
    metrics = runtime.get("test_metrics")
    if metrics:
        typer.echo(f"  test MAP image->text {metrics['i2t_map']:.4f}, text->image {metrics['t2i_map']:.4f}")
    typer.echo(f"device: {real} (asked: {device}; available providers: {', '.join(onnxruntime.get_available_providers())})")
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)


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
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder with pairs.jsonl and train/val/test splits.")],
    method: Annotated[str, typer.Option(help="What to score: ccl, an ablation (ccl-no-patches...), cca, infonce or conse; fitted on the train split.")] = "ccl",
    split: Annotated[str, typer.Option(help="The split to score: test, val, style-val or style.")] = "test",
    text_feature: Annotated[str, typer.Option(help="Text tower: minilm or bow (bag of words).")] = "minilm",
    seed: Annotated[int, typer.Option(help="Seed of training.")] = 0,
    model: Annotated[Optional[Path], typer.Option(help="Score this trained model folder instead of fitting a method.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")] = False,
) -> None:
    """Score a method on a corpus split: MAP both ways (category relevance), R@1/5/10 and median rank."""
    from ccl_embed.train.evaluate import Encoders
    from ccl_embed.train.pipeline import open_workbench

    encoders: Encoders
    try:
        bench = open_workbench(corpus, text_feature=text_feature, seed=seed, progress=_tqdm)
        bench.split(split)  # fail before fitting when the split does not exist
        if model is not None:
            from ccl_embed.model.folder import load_model
            from ccl_embed.model.trainer import CCLEncoders

            encoders, fit_seconds, method = CCLEncoders(load_model(model)), 0.0, str(model)
        else:
            encoders, fit_seconds = bench.fit(method)
        scores = bench.score(encoders, split)
    except (CCLEmbedError, ValueError) as e:
        raise _fail(str(e)) from None
    result = {"method": method, "split": split, "text_feature": text_feature, **scores.to_dict(),
              "fit_seconds": round(fit_seconds, 2)}
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{method} on {split} ({scores.n_images} images, {scores.n_texts} texts)")
    typer.echo(f"  MAP  image->text {scores.i2t_map:.4f}  text->image {scores.t2i_map:.4f}  mean {scores.mean_map:.4f}")
    typer.echo(f"  R@1/5/10 image->text {scores.r1_i2t:.3f}/{scores.r5_i2t:.3f}/{scores.r10_i2t:.3f}  "
               f"text->image {scores.r1_t2i:.3f}/{scores.r5_t2i:.3f}/{scores.r10_t2i:.3f}")
    typer.echo(f"  median rank image->text {scores.medr_i2t:g}  text->image {scores.medr_t2i:g}")


def main() -> None:
    """Entry point of the ``ccl-embed`` script: no traceback reaches the user."""
    import os

    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # the last line of defence; CCL_EMBED_DEBUG=1 shows the traceback
        if os.environ.get("CCL_EMBED_DEBUG"):
            raise
        typer.echo(f"error: unexpected {type(e).__name__}: {e} (set CCL_EMBED_DEBUG=1 for details)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
