"""Corpus formats, patch schemes, image loading and the builders of the training corpora."""
