"""Errors of the registry; Step Functions Retry/Catch match on these class names."""


class RegistryError(Exception):
    """Base class for failures reading or writing the registry."""


class VersionConflictError(RegistryError):
    """(name, version) is registered already with different bytes; versions are immutable."""


class PointerConflictError(RegistryError):
    """A stage pointer moved while we were moving it; safe to retry."""


class VersionNotRegisteredError(RegistryError):
    """A pointer was asked to move to a version the registry does not hold."""


class PromotionLockedError(RegistryError):
    """Another promotion of the same model holds the lock; retried, then reported."""


class VersionSupersededError(RegistryError):
    """A newer version of the model went ahead while this one waited for the lock, and the
    environment's policy is latest-wins: this one will not go live."""


class InvalidStateError(RegistryError):
    """A workflow step received a state document that does not follow the contract."""


class InvalidPageTokenError(RegistryError):
    """A pagination token was not issued by this registry for this listing."""


class MissingSettingError(RegistryError):
    """A function was deployed without an environment variable its code needs."""


class UploadNotDeclaredError(RegistryError):
    """Uploaded bytes nobody declared (where duties are separated), or other bytes than a
    version's declaration names."""


class UploadDeclarationConflictError(RegistryError):
    """A version is declared already, by someone else or for other bytes, or registered."""


class NotAnApproverError(RegistryError):
    """A decision (approve, reject, roll back) from someone the environment does not list."""


class SelfApprovalError(RegistryError):
    """The uploader of a version tried to approve it where the environment forbids that."""


class LockLostError(RegistryError):
    """This promotion no longer holds its model's lock: a rollback (or an operator) took it
    and cancelled the promotion, which must not move the live pointer any more."""


class CanaryStillBakingError(RegistryError):
    """The canary has not baked long enough, or had too few requests, to be judged: the
    workflow checks again a few seconds later (a Retry on this name), until its deadline."""


class AttestationInvalidError(RegistryError):
    """An attestation that proves nothing: malformed, too big, its statement not the one its
    digest names, or its signature not made by the key it is checked with."""


class ProvenanceRefusedError(RegistryError):
    """A version whose provenance this environment does not accept: no valid attestation
    from the environment it takes models from, one that falls short of the chain policy, or
    lineage that falls short of the lineage policy. The reason names what is missing."""


class NotAttestableError(RegistryError):
    """A version this environment never approved nor put live: there is nothing to attest."""


class TableBusyError(RegistryError):
    """DynamoDB left part of a batch read unprocessed (throttling) after the bounded
    retries: the caller may try again a moment later."""
