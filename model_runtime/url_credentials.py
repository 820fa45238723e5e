"""Credentials in the URLs that lineage records: found, and taken out.

A git remote like ``https://x-access-token:ghp_…@github.com/org/repo`` or a presigned dataset
URL carries a secret that would otherwise travel into the manifest, DynamoDB, the registry
API, OpenLineage events and the state machine's logs. Packaging scrubs them; the manifest
refuses a URL that still carries one (a bundle built by hand), without echoing it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that carry secrets: tokens, signatures (S3 presigned, Azure SAS),
# passwords and keys. Matched on the lowercased name.
_SECRET_PARAMETER = re.compile(
    r"(token|secret|password|passwd|pwd|signature|sig|credential|key|auth|session)"
)
# The one user name that is a convention, not a secret: git@host:org/repo
_CONVENTIONAL_USERS = {"git"}


def _secret_parameter(name: str) -> bool:
    return bool(_SECRET_PARAMETER.search(name.lower()))


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries userinfo (other than ``git@``) or a secret query parameter."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        if userinfo not in _CONVENTIONAL_USERS:
            return True
    return any(_secret_parameter(name) for name, _ in parse_qsl(parts.query, True))


def scrub_credentials(url: str) -> str:
    """``url`` without userinfo (``git@`` stays) and without secret query parameters."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = netloc if userinfo in _CONVENTIONAL_USERS else host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, True) if not _secret_parameter(k)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
