"""ccl-embed: cross-modal correlation learning (CCL) image-text embeddings for Qdrant.

The root exports a handful of names. Importing it loads neither torch nor onnxruntime.
"""

from importlib.metadata import PackageNotFoundError, version

from ccl_embed.data.corpus import Corpus, read_corpus
from ccl_embed.errors import CCLEmbedError, CorpusError
from ccl_embed.evaluation import RetrievalScores, evaluate_embeddings
from ccl_embed.sdk import Hit, open
from ccl_embed.store.base import StoreError

try:
    __version__ = version("ccl-embed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "CCLEmbedError",
    "Corpus",
    "CorpusError",
    "Hit",
    "RetrievalScores",
    "StoreError",
    "__version__",
    "evaluate_embeddings",
    "open",
    "read_corpus",
]
