"""An embedded chain's deploy-time key: an embedded environment's ``accepts_from`` may say
``"public_key": "embedded"``, and `slipway local up` passes the earlier environment's
deployed key as CDK context when it deploys it. The key is then part of the synthesized
gate policy, as a written one is: never fetched at run time."""

from __future__ import annotations

from typing import Any

from registry.chain_policy import EMBEDDED_PUBLIC_KEY

# the CDK context `slipway local up` sets (-c) for the later environment's synthesis
EMBEDDED_KEY_CONTEXT = "slipway:accepts-from-public-key"


def with_embedded_key(environments: Any, name: str, public_key: str | None) -> Any:
    """``environments`` with ``public_key`` in place of ``"embedded"`` in environment
    ``name``'s ``accepts_from``; unchanged without a key, where a key is written, or where
    the environment is not embedded (an AWS environment's key is the one cdk.json holds: a
    key given at deploy time would pass its check that "embedded" is only for embedded ones)."""
    entry = environments.get(name) if isinstance(environments, dict) else None
    accepts = entry.get("accepts_from") if isinstance(entry, dict) else None
    if not public_key or not isinstance(accepts, dict) or entry.get("embedded") is not True:
        return environments
    if accepts.get("public_key") != EMBEDDED_PUBLIC_KEY:
        return environments
    filled = {**entry, "accepts_from": {**accepts, "public_key": public_key}}
    return {**environments, name: filled}
