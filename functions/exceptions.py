"""Errors of the control plane; Step Functions Catch/Retry match on these class names."""


class SlipwayControlError(Exception):
    """Base class for control-plane failures."""


class InvalidEventError(SlipwayControlError):
    """An event does not have the shape this handler consumes."""


class VersionConflictError(SlipwayControlError):
    """(name, version) is registered already with different bytes; versions are immutable."""


class PointerConflictError(SlipwayControlError):
    """A stage pointer moved while we were moving it; safe to retry."""


class VersionNotRegisteredError(SlipwayControlError):
    """A pointer was asked to move to a version the registry does not hold."""


class PromotionLockedError(SlipwayControlError):
    """Another promotion of the same model holds the lock; retried, then reported."""


class NotFoundError(SlipwayControlError):
    """No such model, version or dataset in the registry."""


class DecisionConflictError(SlipwayControlError):
    """The version is not waiting for a decision, or the model has nothing to roll back to."""


class InvalidPageTokenError(SlipwayControlError):
    """A pagination token was not issued by this registry."""


class CanaryFailedError(SlipwayControlError):
    """The candidate did worse than the limits or the stable version while it took traffic."""
