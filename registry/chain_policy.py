"""What an environment requires of the one it takes models from (cdk.json ``accepts_from``).

``infra/config.py`` validates the setting; ``infra/gate_policy.py`` writes it into the gate
policy of every execution, where the VerifyProvenance step reads it. An environment without
it takes direct uploads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.names import CONFIG_NAME_PATTERN

# What an embedded environment may write for the earlier environment's public key: the
# embedded cloud fills in the deployed key at deploy time (never at run time).
EMBEDDED_PUBLIC_KEY = "embedded"
ACCOUNT_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"
# A P-256 SubjectPublicKeyInfo is 91 bytes: 124 characters of base64. Room for other forms.
MAX_PUBLIC_KEY_CHARS = 1024
# `slipway promote` asks for a statement right before it uploads, and the gate judges it
# within minutes; a statement signed before a rollback upstream stays good for this long
DEFAULT_MAX_AGE_HOURS = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainRequirement(_Strict):
    """What the earlier environment must have done with a version."""

    status: Literal["live", "approved"] = Field(
        "live", description="'live': went live there; 'approved': approved there (or live)"
    )
    min_live_minutes: int = Field(
        0, ge=0, le=525_600, description="live there at least this long; needs status live"
    )
    manual_approval: bool = Field(False, description="approved there by a person, not 'auto'")
    no_rollback: bool = Field(True, description="never rolled back (away from) there")


class ChainPolicy(_Strict):
    """The environment this one accepts models from, the key that environment signs with,
    and what it must have done with a version."""

    environment: Annotated[str, Field(pattern=CONFIG_NAME_PATTERN.pattern, max_length=31)]
    account: Annotated[str, Field(pattern=ACCOUNT_PATTERN, max_length=12)]
    region: Annotated[str, Field(pattern=REGION_PATTERN, max_length=32)]
    # base64 DER SubjectPublicKeyInfo of a P-256 key, or EMBEDDED_PUBLIC_KEY until filled in
    public_key: Annotated[str, Field(min_length=1, max_length=MAX_PUBLIC_KEY_CHARS)]
    require: ChainRequirement = ChainRequirement()
    max_age_hours: int = Field(
        DEFAULT_MAX_AGE_HOURS, ge=1, le=24 * 366, description="older statements are stale"
    )
