"""The installed ccl-embed version, for every layer (the package root re-exports it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccl-embed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
