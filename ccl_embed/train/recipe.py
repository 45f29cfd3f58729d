"""The recipe: every chosen setting of the shipped model, in one checked-in file.

``recipe.json`` beside this module holds the config sections that differ from the plain defaults
(``config``), the schedule of a fine-tune (``fine_tune``: changes on top of the base model's own
config, chosen by benchmarks/research/tune_finetune.py) and what the release build trains on (``release``). ``ccl-embed train`` with no flags
trains the recipe; ``scripts/build_default_model.py`` builds the shipped model from it. Where each
setting was chosen is written in docs/model.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError
from ccl_embed.model.config import SECTIONS, CCLConfig

RECIPE_FILE = Path(__file__).with_name("recipe.json")


def read_recipe(path: str | Path | None = None) -> dict[str, Any]:
    """The whole recipe record (``name``, ``config`` sections, ``release``).

    Raises:
        CCLEmbedError: When the file is unreadable or not a recipe.
    """
    path = Path(path) if path is not None else RECIPE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CCLEmbedError(f"{path}: not a readable recipe ({e})") from e
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise CCLEmbedError(f"{path}: a recipe is a JSON object with a 'config' object of sections (model, train, readout)")
    return record


def recipe_config(changes: dict[str, Any] | None = None, path: str | Path | None = None) -> CCLConfig:
    """The recipe's config with ``changes`` on top: either sections (``{"train": {"seed": 1}}``)
    or fields by their own names (``{"seed": 1}``).

    Raises:
        CCLEmbedError: For an unreadable recipe.
        ValueError: For an unknown field or an invalid value (the message names it).
    """
    return CCLConfig.from_dict(read_recipe(path)["config"]).replace(**flat_changes(changes or {}))


def fine_tune_changes(path: str | Path | None = None) -> dict[str, Any]:
    """The recipe's fine-tune schedule, fields by name: what changes in a base model's config when
    ``ccl-embed train --from`` fine-tunes it (stage 1 and fusion kept, stage 2 trained).

    Raises:
        CCLEmbedError: For an unreadable recipe.
    """
    return flat_changes(read_recipe(path).get("fine_tune") or {})


def flat_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Changes given as sections (``{"train": {"seed": 1}}``) or fields by name, as fields by name."""
    flat: dict[str, Any] = {}
    for key, value in changes.items():
        if isinstance(value, dict) and key in SECTIONS:
            flat.update(value)
        else:
            flat[key] = value
    return flat
