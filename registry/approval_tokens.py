"""Task tokens of waiting approvals, kept sealed with the environment's KMS key.

Whoever holds a waiting promotion's task token can resume it with SendTaskSuccess. The token
is stored on the version item, which registry readers can read, so it is stored encrypted,
bound by its encryption context to the model, version and execution it belongs to: only the
registry API (kms:Decrypt on this key) can open it, and a sealed token copied onto another
version does not open. Promote still refuses an approval the registry did not record.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApprovalTokens:
    kms: Any
    key_id: str

    def seal(self, token: str, name: str, version: str, execution: str) -> str:
        sealed = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=token.encode(),
            EncryptionContext=_context(name, version, execution),
        )
        return base64.b64encode(sealed["CiphertextBlob"]).decode()

    def unseal(self, sealed: str, name: str, version: str, execution: str) -> str:
        opened = self.kms.decrypt(
            KeyId=self.key_id,
            CiphertextBlob=base64.b64decode(sealed),
            EncryptionContext=_context(name, version, execution),
        )
        return bytes(opened["Plaintext"]).decode()


def _context(name: str, version: str, execution: str) -> dict[str, str]:
    return {"slipway:model": name, "slipway:version": version, "slipway:execution": execution}
