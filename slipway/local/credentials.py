"""The embedded cloud's per-start credentials: only who can read its state dir may call it.

Every start makes a new access key. The moto endpoint and every Function URL gateway answer
only requests signed with it: SigV4's ``Credential=<key>/...`` in the Authorization header
or a presigned URL's query, or S3's SigV2 ``AWSAccessKeyId``. The CLI reads it from the state
file, which only its owner may read. The signature itself is not verified, as moto does not
verify it: the key is the secret, and it never leaves this machine.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

import httpx

_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")
UNSIGNED = (
    b'{"Message":"Forbidden: the embedded cloud answers only requests signed with the key '
    b'of this start (slipway local env prints it)"}'
)


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> LocalCredentials:
        return cls("SLWY" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))

    def environment(self) -> dict[str, str]:
        """As AWS's SDKs and the CDK CLI read credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def signed(
        self,
        authorization: str | None,
        query: str = "",
        issued: Callable[[str], bool] | None = None,
    ) -> bool:
        """Whether a request names this start's key (header, or presigned query), or a key
        ``issued`` says this cloud's STS gave a holder of it (the CDK CLI assumes the
        bootstrap roles)."""
        key = key_of(authorization, query)
        if key is None:
            return False
        mine = hmac.compare_digest(key.encode(), self.access_key_id.encode())
        return mine or (issued is not None and issued(key))


def key_of(authorization: str | None, query: str = "") -> str | None:
    """The access key a SigV4-signed request names."""
    found = _CREDENTIAL.search(authorization or "")
    if found:
        return found.group(1)
    if "X-Amz-Credential" in query or "AWSAccessKeyId" in query:
        parsed = parse_qs(query)
        credential = parsed.get("X-Amz-Credential", [""])[0].split("/", 1)[0]
        # S3's presigned URLs from a default client are SigV2: the key is a parameter itself
        return credential or parsed.get("AWSAccessKeyId", [""])[0] or None
    return None


class SigV4Auth(httpx.Auth):
    """httpx signing for the embedded cloud's Function URLs, as AWS_IAM auth expects."""

    def __init__(self, credentials: LocalCredentials, region: str = "us-east-1") -> None:
        self._credentials = credentials
        self._region = region

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        from botocore.auth import SigV4Auth as BotocoreSigV4
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={"host": request.headers["host"]},
        )
        key = Credentials(self._credentials.access_key_id, self._credentials.secret_access_key)
        BotocoreSigV4(key, "lambda", self._region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date"):
            request.headers[name] = signed.headers[name]
        yield request
