"""Whether a version's lineage is good enough to audit, as an environment's policy demands.

An auditor must be able to rebuild a model from what its lineage names: the commit (clean,
so it is all the code), at a repository anyone with access can reach (not a folder on the
builder's laptop), trained on datasets at addresses that always give the same bytes (an S3
object version, a content-addressed store; never ``file:///tmp/...``). The gate calls
``shortfalls`` on the registered lineage and refuses the version with the sentences it
returns. The lineage is the uploader's document: every value quoted back is bounded and
printable, and anything not recognised falls short rather than passes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict


class LineagePolicy(BaseModel):
    """What an environment requires of a version's lineage (cdk.json ``lineage_policy``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    clean_commit: bool = False
    shareable_repository: bool = False
    durable_datasets: bool = False


MAX_URI_LENGTH = 2048
# a value quoted back in a reason: enough to recognise it, never a page of the uploader's text
MAX_QUOTED = 160
# dataset sentences in one answer; the rest are counted (a reason is one line people read)
MAX_DATASET_SHORTFALLS = 10

# git's object names: SHA-1 (40) or SHA-256 (64) repositories, as `git rev-parse` prints them
COMMIT_PATTERN = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# S3's bucket naming rules (general purpose buckets)
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# a DNS name with at least one dot: a bare name ("gitlab", an ssh alias from ~/.ssh/config)
# means something else on the next machine
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
# git's scp-like syntax: [user@]host:path (no scheme, no slash before the colon)
SCP_PATTERN = re.compile(r"(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[^/:@\[\]]+):(?P<path>.+)")
# Hugging Face Hub datasets pinned to a commit: hf://datasets/<owner>/<name>@<commit>/<file>
HF_PATTERN = re.compile(
    r"hf://datasets/[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"
    r"@(?P<commit>[0-9a-f]{40})/(?P<path>[^?#]+)"
)
# a host's last label that makes it an IPv4 address in another spelling (WHATWG URL, inet_aton)
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
# a URI as written holds no space or control character; a decoded key or id no control one
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: str) -> bool:
    return not _UNPRINTABLE.search(value)


def _no_control(value: str) -> bool:
    return not _CONTROL.search(value)


def _public_host(host: str) -> bool:
    """A host another machine reaches as the same one: a dotted DNS name or an IP address
    that is not loopback, unspecified or link-local."""
    host = host.lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            return (
                bool(HOST_PATTERN.fullmatch(host))
                and host not in _LOOPBACK_NAMES
                and not host.endswith(".localhost")
            )
        # no top-level domain is numeric: git and curl read this as IPv4 the way inet_aton
        # does (127.1, 0177.0.0.1 and 0x7f.1 are all 127.0.0.1)
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not (address.is_loopback or address.is_unspecified or address.is_link_local)


def is_shareable_repository(url: str) -> bool:
    """Whether ``url`` names a git repository others can fetch: ``https://host/path``,
    ``ssh://[user@]host[:port]/path`` or scp-like ``[user@]host:path``, on a dotted host
    name or an address that is not this machine's. Not ``file://``, a path, plain
    ``http://`` or ``git://`` (nothing vouches for who served the code), nor a URL with a
    password in it."""
    if not isinstance(url, str) or not url or len(url) > MAX_URI_LENGTH or not _printable(url):
        return False
    if "://" not in url:
        match = SCP_PATTERN.fullmatch(url)
        return bool(match) and _public_host(match["host"]) and match["path"].strip("/") != ""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return False
    if parts.scheme not in ("https", "ssh") or parts.query or parts.fragment:
        return False
    host = parts.hostname or ""
    if not host or not _public_host(host) or parts.path.strip("/") == "":
        return False
    if "@" in parts.netloc:
        # https carries no user (the manifest refuses tokens); ssh may name one, never a password
        return parts.scheme == "ssh" and parts.password is None and bool(parts.username)
    return True


def s3_dataset_uri(bucket: str, key: str, version_id: str) -> str:
    """How lineage records one S3 object version: ``s3://bucket/key?versionId=<id>``, the
    key and the id percent-encoded (a key may hold '?', '#' or spaces)."""
    return f"s3://{bucket}/{quote(key, safe='/')}?versionId={quote(version_id, safe='')}"


def s3_version_of(uri: str) -> tuple[str, str, str | None] | None:
    """(bucket, key, version id) of an ``s3://bucket/key[?versionId=...]`` URI, or None
    for anything else (another scheme, a bad bucket name, an empty key, other parameters)."""
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH or not _printable(uri):
        return None
    try:
        parts = urlsplit(uri)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        return None
    if parts.scheme != "s3" or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
        return None
    key = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not BUCKET_PATTERN.fullmatch(parts.netloc) or ".." in parts.netloc or not key:
        return None
    if not _no_control(key):
        return None
    names = [name for name, _ in query]
    if any(name != "versionId" for name in names) or len(names) > 1:
        return None
    return parts.netloc, key, (query[0][1] if query else None)


def is_durable_dataset_uri(uri: str) -> bool:
    """Whether ``uri`` always gives the same bytes: an S3 object version
    (``s3://bucket/key?versionId=<id>``, an id S3 gave, not "null", which an unversioned
    bucket reports) or a Hugging Face Hub dataset file pinned to a full commit
    (``hf://datasets/<owner>/<name>@<40 hex>/<file>``). Anything else is not."""
    located = s3_version_of(uri)
    if located is not None:
        version = located[2]
        return bool(version) and version != "null" and _no_control(version or "")
    if not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH or not _printable(uri):
        return False
    match = HF_PATTERN.fullmatch(uri)
    # no percent-escapes: a server that decodes %2e%2e would read another file
    return bool(match) and ".." not in match["path"].split("/") and "%" not in match["path"]


def _quoted(value: Any) -> str:
    """A value of the uploader's, safe to put in a reason: printable and bounded."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else repr(value)
    text = _CONTROL.sub("?", text)
    if len(text) > MAX_QUOTED:
        text = text[:MAX_QUOTED] + "…"
    return text or '""'


def _dataset_advice(uri: Any) -> str:
    if not isinstance(uri, str):
        return "record where it lives"
    located = s3_version_of(uri)
    if located is not None:
        if located[2] == "null":
            return (
                'its version id is "null": the bucket was not versioned when the object was '
                "written; turn versioning on and write the data again"
            )
        return (
            "it names no object version: train from it with slipway (package_model or "
            "`slipway package --train s3://...`), which records the version id"
        )
    scheme = urlsplit(uri).scheme if "://" in uri else ""
    if uri.startswith("dataframe:"):
        return (
            "it was passed as an in-memory DataFrame; pass the s3:// URI of its data instead "
            "(slipway records its version id when you train from S3)"
        )
    if scheme == "hf":
        return "pin it to a full commit: hf://datasets/<owner>/<name>@<40 hex>/<file>"
    return "use s3:// with a version id (slipway records it when you train from S3)"


def _code_shortfalls(code: Any, policy: LineagePolicy) -> list[str]:
    if not isinstance(code, dict):
        return ["lineage.code is missing: the version names no code it was built from"]
    found = []
    repository, commit, dirty = code.get("repository"), code.get("commit"), code.get("dirty")
    where = f"{_quoted(repository)} at {_quoted(commit)}"
    if policy.clean_commit:
        if dirty is True:
            found.append(
                f"lineage.code.dirty is true: built from uncommitted changes in {where}; "
                "commit them and build again"
            )
        elif dirty is not False:
            found.append(
                f"lineage.code.dirty is {_quoted(dirty)}, not false: nothing shows that {where} "
                "was a clean working tree"
            )
        if not isinstance(commit, str) or not COMMIT_PATTERN.fullmatch(commit):
            found.append(
                f"lineage.code.commit is {_quoted(commit)}: not a full git commit hash "
                "(40 or 64 lowercase hex characters); build from a git checkout"
            )
    if policy.shareable_repository and not is_shareable_repository(repository):  # type: ignore[arg-type]
        found.append(
            f"lineage.code.repository is {_quoted(repository)}: not a shareable repository "
            "URL; build from a clone whose origin is https://host/..., ssh://host/... or "
            "git@host:... (a dotted host name, not this machine)"
        )
    return found


def _dataset_shortfalls(datasets: Any) -> list[str]:
    if not isinstance(datasets, list):
        return [f"lineage.datasets is {_quoted(datasets)}: not a list of datasets"]
    if not datasets:
        return ["lineage.datasets is empty: the version names no data it was trained on"]
    found = []
    for index, dataset in enumerate(datasets):
        if not isinstance(dataset, dict):
            found.append(f"lineage.datasets[{index}] is {_quoted(dataset)}: not a dataset")
            continue
        uri, role = dataset.get("uri"), dataset.get("role")
        if isinstance(uri, str) and is_durable_dataset_uri(uri):
            continue
        found.append(
            f"dataset {_quoted(role)} {_quoted(uri)} is not at a durable URI: "
            + _dataset_advice(uri)
        )
    if len(found) > MAX_DATASET_SHORTFALLS:
        more = len(found) - MAX_DATASET_SHORTFALLS
        found = [*found[:MAX_DATASET_SHORTFALLS], f"and {more} more datasets not at durable URIs"]
    return found


def shortfalls(lineage: dict[str, Any], policy: LineagePolicy) -> list[str]:
    """What ``lineage`` (a manifest's ``lineage``) lacks for ``policy``, one sentence each
    naming the field and its value; ``[]`` when it complies (always, for an empty policy)."""
    if not (policy.clean_commit or policy.shareable_repository or policy.durable_datasets):
        return []
    if not isinstance(lineage, dict):
        return [f"lineage is {_quoted(lineage)}: not a lineage document"]
    found = []
    if policy.clean_commit or policy.shareable_repository:
        found += _code_shortfalls(lineage.get("code"), policy)
    if policy.durable_datasets:
        found += _dataset_shortfalls(lineage.get("datasets"))
    return found
