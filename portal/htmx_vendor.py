"""`flask --app wsgi vendor-htmx`: the pinned htmx from the npm registry, for machines whose
browsers cannot reach the CDN (PORTAL_HTMX_SOURCE=local).

The package tarball is checked against the registry's own sha512 integrity, and the file taken
from it against the SRI hash the pages already pin (PORTAL_HTMX_INTEGRITY), before anything is
written: a copy that is not byte-for-byte the pinned build never lands in static/.
"""

import base64
import hashlib
import io
import json
import tarfile
import tempfile
import urllib.request
from pathlib import Path

PACKAGE = "htmx.org"
MEMBER = "package/dist/htmx.min.js"


class VendorError(RuntimeError):
    """The download or one of its checks failed; nothing was written."""


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (https or loopback)
            return response.read()
    except OSError as error:
        raise VendorError(f"cannot download {url}: {error}") from None


def _sri(algorithm: str, data: bytes) -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def install(registry: str, version: str, integrity: str, target: Path) -> Path:
    """Download htmx.org@version, check both hashes, write dist/htmx.min.js to `target`."""
    try:
        metadata = json.loads(_fetch(f"{registry}/{PACKAGE}/{version}"))
        tarball_url, tarball_integrity = (metadata["dist"]["tarball"],
                                          metadata["dist"]["integrity"])
    except (ValueError, KeyError, TypeError):
        raise VendorError(f"the registry's answer for {PACKAGE}@{version} has no tarball") from None
    tarball = _fetch(tarball_url)
    algorithm = tarball_integrity.split("-", 1)[0]
    if algorithm not in {"sha256", "sha384", "sha512"} or (
            _sri(algorithm, tarball) != tarball_integrity):
        raise VendorError(f"{tarball_url} does not match the registry's integrity "
                          f"{tarball_integrity}")
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            source = archive.extractfile(MEMBER).read()
    except (tarfile.TarError, KeyError, AttributeError):
        raise VendorError(f"{tarball_url} has no {MEMBER}") from None
    algorithm = integrity.split("-", 1)[0]
    if algorithm not in {"sha256", "sha384", "sha512"} or _sri(algorithm, source) != integrity:
        raise VendorError(f"{PACKAGE}@{version}'s {MEMBER} does not match the pinned SRI hash "
                          f"{integrity}; nothing was written")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a page never loads half a file, two installs never mix.
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as part:
        part.write(source)
    Path(part.name).chmod(0o644)  # a static file: a proxy in front may serve it too
    Path(part.name).replace(target)
    return target
