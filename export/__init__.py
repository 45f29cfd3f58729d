"""Export a trained CCL model to ONNX encoders (installed as ``ccl_embed.export``; needs the ``export`` extra).

The runtime never imports this package: it only reads the files written here.
"""

from ccl_embed.export.onnx_export import ExportError, ParityReport, export_model

__all__ = ["ExportError", "ParityReport", "export_model"]
