"""The application: -h and --version on every command."""


def test_short_help_and_version_as_in_its_peers():
    from typer.testing import CliRunner

    from ccl_embed import __version__
    from ccl_embed.cli import app

    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.strip() == f"ccl-embed {__version__}"
    for args in (["-h"], ["search", "-h"], ["data", "-h"]):
        shown = runner.invoke(app, args)
        assert shown.exit_code == 0 and "Usage: ccl-embed" in shown.stdout, args


def test_commands_are_listed_in_the_order_a_user_meets_them():
    from typer.testing import CliRunner

    from ccl_embed.cli import app

    shown = CliRunner().invoke(app, ["-h"], env={"COLUMNS": "200"}).stdout
    first = {name: shown.find(f" {name} ") for name in ("ingest", "search", "serve", "train", "data")}
    assert all(v > 0 for v in first.values()), first
    assert first["ingest"] < first["search"] < first["serve"] < first["train"] < first["data"]


def test_the_qdrant_key_and_the_ccl_servers_key_have_distinct_names():
    from typer.testing import CliRunner

    from ccl_embed.cli import app

    runner = CliRunner()
    for command in ("ingest", "search", "collections", "drop", "forget"):
        shown = runner.invoke(app, [command, "-h"], env={"COLUMNS": "200"}).stdout
        assert "--qdrant-api-key" in shown and "--api-key " not in shown, command
    served = runner.invoke(app, ["serve", "-h"], env={"COLUMNS": "200"}).stdout
    assert "--api-key" in served and "--qdrant-api-key" in served


def test_help_fits_80_columns_with_plain_metavars():
    from typer.testing import CliRunner

    from ccl_embed.cli import app

    shown = CliRunner().invoke(app, ["ingest", "--help"], env={"COLUMNS": "80"}).stdout
    assert "<bool>" not in shown and "…" not in shown and "FOLDER" in shown
    assert all(len(line) <= 80 for line in shown.splitlines()), max(shown.splitlines(), key=len)
    for name in ("--follow-links-outside", "--gpus-per-worker", "--qdrant-api-key", "--batch-size N"):
        assert name in shown, name
    search = CliRunner().invoke(app, ["search", "--help"], env={"COLUMNS": "80"}).stdout
    assert "--modality [image|text]" in search and "--device [auto|cpu|cuda]" in search
