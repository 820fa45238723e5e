"""What names, versions, digests and upload keys look like: the registry's identifiers.

Every layer checks identifiers against these patterns (the manifest, the serving routes, the
registry API, the CLI), so they are written once.
"""

from __future__ import annotations

import re

# Check with ``fullmatch``: ``$`` alone also matches before a trailing newline. (The same
# patterns in pydantic and FastAPI run on Rust's regex engine, whose ``$`` does not.)
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# an environment's or an endpoint's name in cdk.json
CONFIG_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

MODELS_PREFIX = "models/"
# Where Firehose delivers captured requests and feedback (YYYY/MM/DD/HH/ below them, UTC),
# where teams drop bulk feedback files, and where the monitor job writes its reports.
CAPTURE_PREFIX = "capture/"
FEEDBACK_PREFIX = "feedback/"
MONITORING_PREFIX = "monitoring/"
BUNDLE_FILE = "bundle.tar.gz"
UPLOAD_KEY_PATTERN = re.compile(r"^models/(?P<name>[^/]+)/(?P<version>[^/]+)/bundle\.tar\.gz$")


def version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of versions, as people count: 2 before 10, 1.9 before 1.10. The
    numbers in a version compare as numbers, the rest as text; a number goes before text at
    the same place (the table orders versions as text: 1, 10, 2)."""
    parts = re.split(r"(\d+)", version)  # the runs of digits are at the odd places
    return tuple((0, int(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)


def upload_key(name: str, version: str) -> str:
    """The S3 key a bundle for (name, version) is uploaded to."""
    return f"{MODELS_PREFIX}{name}/{version}/{BUNDLE_FILE}"


def name_and_version_of_key(key: str) -> tuple[str, str] | None:
    """(name, version) an upload key claims, or None for a key of another shape."""
    match = UPLOAD_KEY_PATTERN.fullmatch(key)
    return (match["name"], match["version"]) if match else None
