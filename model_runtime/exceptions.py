"""Errors of the data plane.

Step Functions Retry/Catch and the serving app match on these class names, so each names
one precise failure. Every message says what was wrong and where.
"""


class SlipwayRuntimeError(Exception):
    """Base class: a problem the caller can read and act on."""


class InvalidManifestError(SlipwayRuntimeError):
    """manifest.json is missing, not JSON, or does not follow the schema."""


class UnsafeArchiveError(SlipwayRuntimeError):
    """The archive holds a member that could escape or exhaust the extraction folder."""


class CorruptBundleError(SlipwayRuntimeError):
    """The bytes are not a readable .tar.gz, or a file does not match its recorded sha256."""


class DigestMismatchError(SlipwayRuntimeError):
    """The bundle's sha256 differs from the digest the registry recorded for it."""


class UploadKeyError(SlipwayRuntimeError):
    """The S3 key is not models/<name>/<version>/bundle.tar.gz or disagrees with the manifest."""


class ForbiddenModelTypeError(SlipwayRuntimeError):
    """A skops file references types outside the allow-list."""


class ModelLoadError(SlipwayRuntimeError):
    """The model file could not be loaded by its flavor."""


class InvalidBaselineError(SlipwayRuntimeError, ValueError):
    """The bundle's monitoring baseline is malformed, too large, or not of its signature."""


class InputExampleMismatchError(SlipwayRuntimeError):
    """The model's answer to its own input example differs from the recorded expected output."""


class ModelNotFoundError(SlipwayRuntimeError):
    """No such model, version or stage pointer in the registry."""


class CandidateOnlyError(ModelNotFoundError):
    """A live endpoint was asked for a candidate (the staging route): only the candidate
    function, which takes no traffic, serves those."""


class InvalidInputError(SlipwayRuntimeError):
    """A prediction request does not fit the model's signature."""


class InvalidRequestError(SlipwayRuntimeError):
    """A request body is not JSON or not of the form {"inputs": [...]}."""


class InvalidEvaluationDataError(SlipwayRuntimeError):
    """The evaluation dataset cannot be read or lacks the columns the model needs."""


class EvaluationFailedError(SlipwayRuntimeError):
    """The candidate misses its threshold or does not beat the live model by the margin."""


class SmokeTestFailedError(SlipwayRuntimeError):
    """The endpoint's answer on the staging route differs from the expected output."""


class SmokeTestTooSlowError(SlipwayRuntimeError):
    """The endpoint's first call, or its warm calls, took longer than the environment's
    cold or warm budget."""


class PythonFlavorNotAllowedError(SlipwayRuntimeError):
    """A python-flavor bundle for a model whose endpoint does not run bundles' own code."""


class IncompatibleBundleError(SlipwayRuntimeError):
    """The bundle was built with library versions this runtime cannot honour."""


class PayloadTooLargeError(SlipwayRuntimeError):
    """A request exceeds the body-size or batch-size limit."""


class ModelOutputError(SlipwayRuntimeError):
    """The model answered with values JSON cannot carry (NaN, infinity, unknown types)."""


class ArchiveLimitExceededError(UnsafeArchiveError):
    """The archive, one of its headers, names or members exceeds an extraction limit, or the
    bundle is larger than the function's disk can hold; refused before the excess is read."""


class SandboxFailedError(SlipwayRuntimeError):
    """The python sandbox could not run a bundle's code, or answered something else than
    one output per row (the bundle's code, or the sandbox function itself, failed)."""


class DatasetSourceError(SlipwayRuntimeError, ValueError):
    """A dataset cannot be read from where it was named (an S3 object that is missing, too
    big or forbidden): packaging stops before it records anything."""
