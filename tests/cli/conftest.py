import pytest


@pytest.fixture(autouse=True)
def no_server_from_the_environment(monkeypatch):
    """These tests use the embedded store; a QDRANT_URL set for the server tests must not redirect them."""
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
