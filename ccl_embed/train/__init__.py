"""Training-side code: frozen feature towers, the feature cache, baselines and (next) CCL.

Needs the ``train`` extra: pip install 'ccl-embed[train]'. The runtime never imports this package.
"""
