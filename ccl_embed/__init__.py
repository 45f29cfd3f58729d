"""ccl-embed: cross-modal correlation learning (CCL) image-text embeddings for Qdrant.

The root exports what users call: :func:`open` (an :class:`Index` of a collection and a model),
:func:`connect` (a client of ``ccl-embed serve``), :class:`Hit`, :class:`Embedder`, the errors and ``__version__``. Corpus and evaluation names live
in their modules (``ccl_embed.data.corpus``, ``ccl_embed.evaluation``). Importing the root loads
neither torch nor onnxruntime.
"""

from ccl_embed._version import __version__
from ccl_embed.errors import CCLEmbedError, CorpusError
from ccl_embed.runtime.embedder import Embedder
from ccl_embed.runtime.manifest import ModelError
from ccl_embed.sdk import Hit, Index, open
from ccl_embed.serve.client import connect
from ccl_embed.store.base import StoreError

__all__ = [
    "CCLEmbedError",
    "CorpusError",
    "Embedder",
    "Hit",
    "Index",
    "ModelError",
    "StoreError",
    "__version__",
    "connect",
    "open",
]
