"""One long-lived process that owns a store: ``ccl-embed serve`` (HTTP API and web page) and
``ccl-embed mcp`` (MCP tools), and the client that reaches them.

The embedded engine lives in one process, so the process that holds a store is the one that
serves it; every other reader goes through it. Layers, bottom up:

- :mod:`~ccl_embed.serve.service`: the framework-free core (open collections, searches, a queue of
  ingest jobs, thumbnails);
- :mod:`~ccl_embed.store.record` (in the store layer): the record a server leaves beside its store, so that the CLI
  finds it (stdlib only);
- :mod:`~ccl_embed.serve.client`: ``ccl_embed.connect(URL)``, the same calls over HTTP (stdlib only);
- :mod:`~ccl_embed.serve.app`: the ASGI app (FastAPI, the ``serve`` extra) and its static web page;
- :mod:`~ccl_embed.serve.mcp`: the MCP server (the official ``mcp`` SDK, stdio).
"""
