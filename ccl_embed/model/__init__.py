"""CCL in PyTorch (training only; the runtime never imports this package).

Cross-modal correlation learning with multi-grained fusion by a hierarchical network
(Peng, Qi, Huang, Yuan, IEEE TMM 2018). Needs the ``train`` extra.
"""

from ccl_embed.model.config import CCLConfig, DataSpec

__all__ = ["CCLConfig", "DataSpec"]
