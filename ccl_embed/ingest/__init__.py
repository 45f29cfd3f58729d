"""Ingesting folders of images and texts into a collection."""

from ccl_embed.ingest.pipeline import IngestSummary, ingest
from ccl_embed.ingest.walk import Skipped

__all__ = ["IngestSummary", "Skipped", "ingest"]
