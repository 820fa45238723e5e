"""Errors of the control plane. Step Functions' Retry and Catch rules match on these class
names; the registry API maps each to a problem type (functions/registry_api/app.py)."""


class SlipwayControlError(Exception):
    """Base class for control-plane failures."""


class InvalidEventError(SlipwayControlError):
    """An event does not have the shape this handler consumes."""


class InvalidRequestError(SlipwayControlError):
    """A request body is not what the route takes (not JSON, a key repeated, a bad field)."""


class NotFoundError(SlipwayControlError):
    """No such model, version or dataset in the registry."""


class DecisionConflictError(SlipwayControlError):
    """The version is not waiting for a decision, or the model has nothing to roll back to."""


class ApprovalNotRecordedError(SlipwayControlError):
    """The approval a promotion carries is not the one the registry recorded for it."""


class CanaryFailedError(SlipwayControlError):
    """The candidate did worse than the limits or the stable version while it took traffic."""


class BundleDeletedError(SlipwayControlError):
    """The registered bytes of the candidate are no longer in the bucket: it cannot go live
    (an endpoint could never load it)."""
