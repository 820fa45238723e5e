"""The lineage repository: every read and write of the lineage table goes through here.

Writes are conditional and idempotent, because each caller (a Lambda behind Step Functions
or SQS) may run more than once for the same event.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from registry import items, keys
from registry.audit import AuditEvent
from registry.exceptions import (
    InvalidPageTokenError,
    InvalidStateError,
    LockLostError,
    PointerConflictError,
    PromotionLockedError,
    TableBusyError,
    UploadDeclarationConflictError,
    VersionConflictError,
    VersionNotRegisteredError,
)
from registry.items import to_dynamo
from registry.monitoring_reports import Role
from registry.statuses import IN_FLIGHT, RegisterOutcome, Stage, VersionStatus
from registry.uploads import DECLARATION_TTL_SECONDS, declaration_is_current


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dynamo(item) for item in value]
    return value


@dataclass(frozen=True)
class UploadedBundle:
    """Where a bundle's bytes are: the exact S3 object version and its sha256."""

    bucket: str
    key: str
    s3_version_id: str
    digest: str
    size: int


@dataclass(frozen=True)
class Page:
    """One page of a listing; ``next_key`` is None on the last page."""

    items: list[dict[str, Any]]
    next_key: dict[str, Any] | None


@dataclass(frozen=True)
class ModelOverview:
    """What a model listing shows of a model besides its summary: its stage pointers and
    its newest version (only the attributes the listing reads)."""

    live: dict[str, Any] | None
    staging: dict[str, Any] | None
    latest: dict[str, Any] | None


# BatchGetItem takes at most 100 keys; what DynamoDB leaves unprocessed (throttling, the
# 16 MB answer limit) is asked for again, this many times at most, after a short pause.
BATCH_GET_KEYS = 100
UNPROCESSED_RETRIES = 3
UNPROCESSED_PAUSE_SECONDS = 0.05
# A version's reports a window filter reads at most: six weeks of hourly runs.
MONITOR_REPORTS_SCANNED = 1000
# The attributes of pointers and version items a model listing reads.
OVERVIEW_ATTRIBUTES = (
    keys.PK,
    keys.SK,
    "version",
    "status",
    "status_changed_at",
    "rejection_reason",
    "cancel_reason",
    "canary_version",
    "canary_weight",
)


def _applied_if_condition_holds(write: Any, **request: Any) -> bool:
    """A conditional write whose failed condition means "nothing to do", not an error."""
    try:
        write(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


class LineageRepository:
    """Reads and writes lineage items through a boto3 DynamoDB ``Table`` resource."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._client = table.meta.client

    # -- writes ---------------------------------------------------------------------------

    def register_version(
        self,
        manifest: dict[str, Any],
        bundle: UploadedBundle,
        execution: str,
        uploaded_by: str | None = None,
        baseline: dict[str, Any] | None = None,
        received_attestation: dict[str, Any] | None = None,
    ) -> RegisterOutcome:
        """Create the immutable version item with its edges; say whether it is new.

        A retry of the same execution is 'registered' again; the same bytes from another
        upload are a 'duplicate'; other bytes under an existing version are refused.
        """
        name, version = manifest["name"], manifest["version"]
        at = now_iso()
        new_version = items.version_item(
            manifest, bundle.__dict__, execution, at, uploaded_by, baseline
        )
        if received_attestation is not None:  # verified by VerifyProvenance, just before
            new_version["received_attestation"] = received_attestation
        edges = items.edge_items(manifest)
        transaction = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": new_version,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *({"Put": {"TableName": self._table.name, "Item": edge}} for edge in edges),
            self._model_summary_update(name, version, at),
        ]
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            existing = self.get_version(name, version)
            if existing is None:  # cancelled for another reason: let the caller retry
                raise
            if existing["execution"] == execution:
                return RegisterOutcome.REGISTERED
            if existing["bundle"]["digest"] == bundle.digest:
                if self._resume_retry(name, version, execution):
                    return RegisterOutcome.REGISTERED  # a failed version, run again
                return RegisterOutcome.DUPLICATE
            raise VersionConflictError(
                f"{name} {version} is already registered with sha256 "
                f"{existing['bundle']['digest']}; this upload has {bundle.digest}. "
                "Versions are immutable: upload under a new version."
            ) from None
        return RegisterOutcome.REGISTERED

    def _resume_retry(self, name: str, version: str, execution: str) -> bool:
        """A failed (or superseded) version whose retry a person asked for, under
        ``execution``, goes through the gate again as this execution's."""
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET #status = :registered, execution = :e, "
            "status_changed_at = :at REMOVE rejection_reason",
            ConditionExpression="#status IN (:failed, :superseded) AND retry_execution = :e",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":registered": VersionStatus.REGISTERED,
                ":failed": VersionStatus.FAILED,
                ":superseded": VersionStatus.SUPERSEDED,
                ":e": execution,
                ":at": now_iso(),
            },
        )

    def request_retry(
        self, name: str, version: str, execution: str, attempt: int, actor: str, reason: str
    ) -> bool:
        """Record that ``actor`` retries a failed (or superseded) version as its
        ``attempt``-th retry, run by ``execution``; refused unless it is one and nobody asked
        for this attempt."""
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET retry_execution = :e, retries = :n, retried_by = :by, "
            "retry_reason = :why",
            # not while a retry is under way: one is pending until its Register resumes the
            # version, and a retry that failed again is the version's execution
            ConditionExpression="#status IN (:failed, :superseded) AND "
            "(attribute_not_exists(retries) OR retries = :previous) AND "
            "(attribute_not_exists(retry_execution) OR retry_execution = execution)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":e": execution,
                ":n": attempt,
                ":previous": attempt - 1,
                ":by": actor,
                ":why": reason,
                ":failed": VersionStatus.FAILED,
                ":superseded": VersionStatus.SUPERSEDED,
            },
        )

    def declare_upload(
        self,
        name: str,
        version: str,
        digest: str,
        actor: str,
        attestation: str | None = None,
        *,
        attested: bool = False,
    ) -> dict[str, Any]:
        """Record that ``actor`` is about to upload the bundle with ``digest`` as this
        version, with the earlier environment's ``attestation`` (an envelope's JSON, checked
        by the gate's VerifyProvenance step) if it was promoted. The same declaration again
        is answered as before, unchanged; the same person may declare other bytes (a bundle
        refused, fixed, pushed again) or another attestation until the version is
        registered; another person's declaration, or a registered version, is a conflict.

        ``attested``: the registry API found the attestation lets these bytes in (where the
        environment takes versions only from an earlier one). Such a declaration takes the
        version number from another person's declaration that was not attested: that one
        cannot pass the gate, and must not keep the promoted version out for a day."""
        registered = self.get_version(name, version)
        if registered is not None:
            same = registered["bundle"]["digest"] == digest
            raise UploadDeclarationConflictError(
                f"{name} {version} is registered already ({registered.get('status')}) "
                + (
                    "with these bytes: nothing to upload"
                    if same
                    else f"with sha256 {registered['bundle']['digest']}; versions are "
                    "immutable: package this model as a new version"
                )
            )
        current = self.upload_declaration(name, version)
        if current is not None and (
            current["declared_by"],
            current["digest"],
            current.get("attestation"),
            bool(current.get("attested")),
        ) == (actor, digest, attestation, attested):
            return current  # a retried push: nothing to write
        at = datetime.now(UTC)
        item = {
            keys.PK: keys.model_pk(name),
            keys.SK: keys.upload_sk(version),
            "kind": "upload",
            "name": name,
            "version": version,
            "digest": digest,
            "declared_by": actor,
            "declared_at": at.isoformat(),
            "expires_at": int(at.timestamp()) + DECLARATION_TTL_SECONDS,
        }
        if attestation is not None:
            item["attestation"] = attestation
        if attested:
            item["attested"] = True
        # absent, expired (TTL deletes late), or the same person's; an attested declaration
        # also takes the place of one that was not
        condition = "attribute_not_exists(pk) OR expires_at <= :now OR declared_by = :actor"
        if attested:
            condition += " OR attribute_not_exists(attested)"
        if _applied_if_condition_holds(
            self._table.put_item,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeValues={":now": int(at.timestamp()), ":actor": actor},
        ):
            return item
        existing = self.upload_declaration(name, version) or {}
        raise UploadDeclarationConflictError(
            f"{name} {version} is declared already by {existing.get('declared_by')} with "
            f"sha256 {existing.get('digest')}: declare a new version"
        )

    def upload_declaration(self, name: str, version: str) -> dict[str, Any] | None:
        item = self._get(keys.model_pk(name), keys.upload_sk(version))
        return item if declaration_is_current(item) else None

    def put_validated_manifest(
        self,
        manifest: dict[str, Any],
        digest: str,
        execution: str,
        ttl_seconds: int,
        baseline: dict[str, Any] | None = None,
    ) -> None:
        """Keep the manifest Validate checked (and its baseline's summary) until Register
        reads it (and a while after: the table's TTL removes it)."""
        expires_at = int(datetime.now(UTC).timestamp()) + ttl_seconds
        self._table.put_item(
            Item=items.validated_manifest_item(manifest, digest, execution, expires_at, baseline)
        )

    def put_received_attestation(
        self, name: str, version: str, received: dict[str, Any], ttl_seconds: int
    ) -> None:
        """Keep an attestation VerifyProvenance verified until Register puts it on the version
        (and a while after: the table's TTL removes it). Keyed by the statement's digest, so
        another execution's verification never changes what this one verified."""
        self._table.put_item(
            Item={
                keys.PK: keys.model_pk(name),
                keys.SK: keys.received_sk(version, received["statement_sha256"]),
                "kind": "received-attestation",
                "received": json.dumps(received, sort_keys=True),
                "expires_at": int(datetime.now(UTC).timestamp()) + ttl_seconds,
            }
        )

    def received_attestation(
        self, name: str, version: str, statement_sha256: str
    ) -> dict[str, Any]:
        """The attestation VerifyProvenance verified for this version and statement."""
        item = self._get(keys.model_pk(name), keys.received_sk(version, statement_sha256))
        if item is None:
            raise InvalidStateError(
                f"no verified attestation {statement_sha256} of {name} {version}: "
                "Register runs after VerifyProvenance"
            )
        return json.loads(item["received"])  # type: ignore[no-any-return]

    def validated_manifest(self, name: str, version: str, digest: str) -> dict[str, Any]:
        """The manifest Validate checked for the bundle with ``digest``."""
        return self.validated_upload(name, version, digest)[0]

    def validated_upload(
        self, name: str, version: str, digest: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The manifest Validate checked for the bundle with ``digest``, and the summary of
        its monitoring baseline (``None``: the bundle has none)."""
        item = self._get(keys.model_pk(name), keys.validated_sk(version, digest))
        if item is None:
            raise InvalidStateError(
                f"no validated manifest of {name} {version} with sha256 {digest}: "
                "Register runs after Validate"
            )
        baseline = json.loads(item["baseline"]) if "baseline" in item else None
        return json.loads(item["manifest"]), baseline

    def _model_summary_update(self, name: str, version: str, at: str) -> dict[str, Any]:
        """The model's summary item, listed through the MODELS index."""
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {keys.PK: keys.model_pk(name), keys.SK: keys.MODEL_SK},
                "UpdateExpression": "SET #kind = :kind, #name = :name, latest_version = :v, "
                "updated_at = :at, created_at = if_not_exists(created_at, :at), "
                f"{keys.MODELS_INDEX_PK} = :partition, {keys.MODELS_INDEX_SK} = :name",
                "ExpressionAttributeNames": {"#kind": "kind", "#name": "name"},
                "ExpressionAttributeValues": {
                    ":kind": "model",
                    ":name": name,
                    ":v": version,
                    ":at": at,
                    ":partition": keys.MODELS_PARTITION,
                },
            }
        }

    def promote(
        self,
        name: str,
        version: str,
        execution: str,
        stage: Stage = Stage.LIVE,
        *,
        holding_lock: bool = False,
        replaced_status: VersionStatus = VersionStatus.ARCHIVED,
    ) -> str | None:
        """Move the stage pointer to ``version``; return the version it pointed to before.

        The pointer only moves from the value read a moment ago (optimistic lock), so two
        promotions can never interleave silently. Moving to where it already is is a no-op.
        With ``holding_lock``, it moves only while ``execution`` holds the model's lock, in
        the same transaction: a promotion whose lock a rollback took moves nothing
        (:class:`LockLostError`). The version it replaces gets ``replaced_status``.
        """
        candidate = self.get_version(name, version)
        if candidate is None:
            raise VersionNotRegisteredError(f"{name} {version} is not registered")
        current = self.get_pointer(name, stage)
        previous = current["version"] if current else None
        if previous == version:
            return current.get("previous_version") if current else None
        at = now_iso()
        pointer = items.pointer_item(name, stage, version, previous, execution, at)
        if current is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": {":seen": previous},
            }
        transaction: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table.name, "Item": pointer, **condition}},
        ]
        if holding_lock:
            transaction.append(self._lock_check(name, execution))
        if stage == Stage.LIVE:
            went_live = self._set_status(name, version, VersionStatus.LIVE, at)
            # when it first went live: what its attestations say (a rollback to it later
            # makes it live again, not new)
            went_live["Update"]["UpdateExpression"] += (
                ", live_since = if_not_exists(live_since, :at)"
            )
            transaction.append(went_live)
            transaction.extend(self._set_edges_live(name, candidate, True))
            # a pointer to a version that is not registered (a damaged item) is replaced, and
            # no status is written for it: an update of a missing item would create one
            replaced = self.get_version(name, previous) if previous is not None else None
            if replaced is not None:
                transaction.append(self._set_status(name, previous, replaced_status, at))
                transaction.extend(self._set_edges_live(name, replaced, False))
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                if holding_lock:
                    self._require_lock(name, execution)
                raise PointerConflictError(
                    f"the {stage} pointer of {name} moved during promotion; retry"
                ) from None
            raise
        return previous

    def _lock_check(self, name: str, execution: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": {keys.PK: keys.model_pk(name), keys.SK: keys.LOCK_SK},
                "ConditionExpression": "execution = :holder",
                "ExpressionAttributeValues": {":holder": execution},
            }
        }

    def _require_lock(self, name: str, execution: str) -> None:
        holder = self.lock_holder(name)
        if holder is None or holder.get("execution") != execution:
            taken_by = holder.get("execution") if holder else "nobody"
            raise LockLostError(
                f"this promotion of {name} ({execution}) no longer holds the model's lock "
                f"(now held by {taken_by}): it was cancelled, and moves nothing"
            )

    def start_canary(self, name: str, version: str, weight: float, execution: str) -> str | None:
        """Let ``version`` take ``weight`` of live traffic; return the stable version.

        Without a live version there is nothing to compare with, so no canary starts. The
        canary belongs to ``execution``: only that promotion may end it.
        """
        pointer = self.get_pointer(name)
        if pointer is None:
            return None
        start = {
            "Update": {
                "TableName": self._table.name,
                "Key": {keys.PK: keys.model_pk(name), keys.SK: keys.stage_sk(Stage.LIVE)},
                "UpdateExpression": "SET canary_version = :v, canary_weight = :w, "
                "canary_started_at = :at, canary_execution = :e",
                "ConditionExpression": "version = :stable",
                "ExpressionAttributeValues": {
                    ":v": version,
                    ":w": to_dynamo(weight),
                    ":at": now_iso(),
                    ":e": execution,
                    ":stable": pointer["version"],
                },
            }
        }
        try:
            # only while this promotion holds the lock: a cancelled one starts no canary
            self._client.transact_write_items(
                TransactItems=[start, self._lock_check(name, execution)]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                self._require_lock(name, execution)
                raise PointerConflictError(
                    f"the live pointer of {name} moved while its canary started; retry"
                ) from None
            raise
        return str(pointer["version"])

    def clear_staging(self, name: str, version: str) -> bool:
        """Drop the staging pointer if it still names ``version`` (one that will not go live):
        nothing is staged then, rather than a rejected or cancelled version."""
        return _applied_if_condition_holds(
            self._table.delete_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.stage_sk(Stage.STAGING)},
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": version},
        )

    def clear_canary(self, name: str, version: str, execution: str) -> bool:
        """Stop routing traffic to ``version`` if it is the live pointer's canary and
        ``execution`` started it: another upload under the same version number (a failed
        one, say) must not switch off a canary that is being judged."""
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.stage_sk(Stage.LIVE)},
            UpdateExpression="REMOVE canary_version, canary_weight, canary_started_at"
            ", canary_execution",
            ConditionExpression="canary_version = :v AND canary_execution = :e",
            ExpressionAttributeValues={":v": version, ":e": execution},
        )

    def record_approval(
        self, name: str, version: str, execution: str, approved_by: str, reason: str
    ) -> bool:
        """Record who approved ``version`` in ``execution``, if it waits for that approval;
        return whether it did. Promote acts only on an approval recorded here."""
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET #s = :approved, approved_by = :by, approved_at = :at, "
            "approved_in = :e, approval_reason = :why REMOVE approval_token",
            ConditionExpression="#s = :waiting AND execution = :e",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":approved": VersionStatus.APPROVED,
                ":waiting": VersionStatus.AWAITING_APPROVAL,
                ":by": approved_by,
                ":at": now_iso(),
                ":e": execution,
                ":why": reason,
            },
        )

    def update_version(self, name: str, version: str, **attributes: Any) -> None:
        """Set attributes of an existing version item (never creates one)."""
        names = {f"#a{i}": key for i, key in enumerate(attributes)}
        values = {f":v{i}": to_dynamo(value) for i, value in enumerate(attributes.values())}
        self._table.update_item(
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(names))),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def cancel_version(
        self, name: str, version: str, execution: str, actor: str, reason: str
    ) -> bool:
        """Mark a version whose promotion ``execution`` was stopped by a person as cancelled;
        only while that promotion is under way (a version that went live stays live)."""
        in_flight = {f":s{i}": status for i, status in enumerate(sorted(IN_FLIGHT))}
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET #status = :cancelled, cancelled_by = :by, "
            "cancel_reason = :why, status_changed_at = :at",
            ConditionExpression=f"execution = :e AND #status IN ({', '.join(in_flight)})",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":cancelled": VersionStatus.CANCELLED,
                ":by": actor,
                ":why": reason,
                ":at": now_iso(),
                ":e": execution,
                **in_flight,
            },
        )

    def reject_version(
        self,
        name: str,
        version: str,
        execution: str,
        reason: str,
        status: VersionStatus = VersionStatus.REJECTED,
        only_from: frozenset[VersionStatus] | None = None,
    ) -> bool:
        """Mark the version ``execution`` registered as rejected (or failed, superseded),
        unless a person cancelled its promotion first (that is what happened to it), or,
        with ``only_from``, unless its status is none of those."""
        condition = "execution = :e AND #status <> :cancelled"
        values: dict[str, Any] = {":cancelled": VersionStatus.CANCELLED}
        if only_from is not None:
            allowed = {f":from{i}": str(s) for i, s in enumerate(sorted(only_from))}
            condition += f" AND #status IN ({', '.join(allowed)})"
            values.update(allowed)
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
            UpdateExpression="SET #status = :rejected, rejection_reason = :why, "
            "status_changed_at = :at",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":rejected": status,
                ":why": reason,
                ":e": execution,
                ":at": now_iso(),
                **values,
            },
        )

    def acquire_lock(
        self,
        name: str,
        version: str,
        execution: str,
        ttl_seconds: int,
        execution_arn: str | None = None,
        take_over_from: str | None = None,
    ) -> None:
        """Hold the model's promotion lock; re-entrant for the same execution.

        An expired lock may be taken over, and so may one held by ``take_over_from``, an
        execution the caller found ended (the condition makes sure it still holds it).
        """
        now = datetime.now(UTC).timestamp()
        condition = "attribute_not_exists(pk) OR execution = :me OR expires_at < :now"
        values: dict[str, Any] = {":me": execution, ":now": int(now)}
        if take_over_from is not None:
            condition += " OR execution = :ended"
            values[":ended"] = take_over_from
        try:
            self._table.put_item(
                Item={
                    keys.PK: keys.model_pk(name),
                    keys.SK: keys.LOCK_SK,
                    "kind": "lock",
                    "execution": execution,
                    "execution_arn": execution_arn,
                    "version": version,
                    "acquired_at": now_iso(),
                    "expires_at": int(now + ttl_seconds),
                },
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            holder = self.lock_holder(name) or {}
            raise PromotionLockedError(
                f"another promotion of {name} is in progress (version "
                f"{holder.get('version', '?')}, execution {holder.get('execution', '?')}); "
                "this one waits for it, then gives up"
            ) from None

    def lock_holder(self, name: str) -> dict[str, Any] | None:
        """The model's lock item, if any execution holds it."""
        return self._get(keys.model_pk(name), keys.LOCK_SK)

    def release_lock(self, name: str, execution: str, grant: str | None = None) -> bool:
        """Release the lock if this execution holds it (under ``grant``, when given: the
        hand-over that wrote it); return whether it did."""
        condition, values = "execution = :me", {":me": execution}
        if grant is not None:
            condition, values = condition + " AND grant_id = :grant", {**values, ":grant": grant}
        return _applied_if_condition_holds(
            self._table.delete_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.LOCK_SK},
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    # -- the line of promotions waiting for the lock (registry/promotion_line.py) ----------

    def join_line(self, name: str, waiter: dict[str, Any], ttl_seconds: int) -> None:
        """Wait for the model's lock: one item per waiting execution. Joining again (the
        workflow re-arms a wait that nobody answered) replaces the task token only."""
        self._table.put_item(
            Item=to_dynamo(
                {
                    keys.PK: keys.model_pk(name),
                    keys.SK: keys.waiting_sk(waiter["execution"]),
                    "kind": "waiting",
                    **waiter,
                    "joined_at": now_iso(),
                    "expires_at": int(datetime.now(UTC).timestamp() + ttl_seconds),
                }
            )
        )

    def claim_newest(
        self, name: str, execution: str, version: str, started_at: str
    ) -> dict[str, Any] | None:
        """Record ``execution`` as the newest promotion of the model to reach its lock,
        unless a newer one (a later start; the same start, a greater name) did; return that
        newer one, or None. The record only ever moves forward: latest-wins judges every
        arrival by it, whenever it comes."""
        applied = _applied_if_condition_holds(
            self._table.put_item,
            Item={
                keys.PK: keys.model_pk(name),
                keys.SK: keys.NEWEST_SK,
                "kind": "newest-arrival",
                "execution": execution,
                "version": version,
                "started_at": started_at,
            },
            ConditionExpression="attribute_not_exists(pk) OR started_at < :s OR "
            "(started_at = :s AND execution <= :e)",
            ExpressionAttributeValues={":s": started_at, ":e": execution},
        )
        return None if applied else self.newest_arrival(name)

    def newest_arrival(self, name: str) -> dict[str, Any] | None:
        return self._get(keys.model_pk(name), keys.NEWEST_SK)

    def waiting_line(self, name: str) -> list[dict[str, Any]]:
        """Every execution waiting for the model's lock (read consistently: who goes next is
        decided on it)."""
        return self._query(keys.model_pk(name), keys.WAITING_PREFIX, consistent=True)

    def leave_line(self, name: str, execution: str, task_token: str | None = None) -> bool:
        """Take an execution out of the line (only while it waits with ``task_token``, when
        given); return whether it was there."""
        condition, values = "attribute_exists(pk)", {}
        if task_token is not None:
            condition, values = "task_token = :token", {":token": task_token}
        return _applied_if_condition_holds(
            self._table.delete_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.waiting_sk(execution)},
            ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}),
        )

    def hand_lock_to(
        self, name: str, waiter: dict[str, Any], ttl_seconds: int, lease_seconds: int
    ) -> str | None:
        """Give the free lock to a waiting execution and take it out of the line, in one
        transaction; return the grant's id (None: the lock was taken, or the waiter left).
        For ``lease_seconds`` the lock is the holder's without asking whether it runs."""
        grant = uuid.uuid4().hex
        now = datetime.now(UTC).timestamp()
        lock = {
            keys.PK: keys.model_pk(name),
            keys.SK: keys.LOCK_SK,
            "kind": "lock",
            "execution": waiter["execution"],
            "execution_arn": waiter["execution_arn"],
            "version": waiter["version"],
            "started_at": waiter["started_at"],
            "acquired_at": now_iso(),
            "expires_at": int(now + ttl_seconds),
            "lease_until": int(now + lease_seconds),
            "grant_id": grant,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": to_dynamo(lock),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table.name,
                            "Key": {
                                keys.PK: keys.model_pk(name),
                                keys.SK: keys.waiting_sk(waiter["execution"]),
                            },
                            "ConditionExpression": "task_token = :token",
                            "ExpressionAttributeValues": {":token": waiter["task_token"]},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return None
        return grant

    def regrant_lock(self, name: str, execution: str, lease_seconds: int) -> str | None:
        """A new grant id, and a renewed lease, for the lock ``execution`` holds (it asks
        again: a hand-over whose token it no longer waited with must not release the lock
        afterwards)."""
        grant = uuid.uuid4().hex
        lease = int(datetime.now(UTC).timestamp() + lease_seconds)
        applied = _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(name), keys.SK: keys.LOCK_SK},
            UpdateExpression="SET grant_id = :grant, lease_until = :lease",
            ConditionExpression="execution = :me",
            ExpressionAttributeValues={":grant": grant, ":me": execution, ":lease": lease},
        )
        return grant if applied else None

    def _set_edges_live(
        self, name: str, version_item: dict[str, Any], live: bool
    ) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {
                        keys.PK: keys.dataset_pk(sha256),
                        keys.SK: keys.edge_sk(name, version_item["version"]),
                    },
                    "UpdateExpression": "SET live = :live",
                    "ExpressionAttributeValues": {":live": live},
                }
            }
            for sha256 in items.datasets_by_digest(version_item["lineage"]["datasets"])
        ]

    def _set_status(
        self, name: str, version: str, status: VersionStatus, at: str
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {keys.PK: keys.model_pk(name), keys.SK: keys.version_sk(version)},
                "UpdateExpression": "SET #status = :status, status_changed_at = :at",
                # only a version that exists: if it went meanwhile, the promotion retries
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":status": status, ":at": at},
            }
        }

    def record_audit(self, event: AuditEvent, detail: dict[str, Any] | None = None) -> None:
        """Write one audit event; the key is deterministic, so a retry overwrites itself."""
        self._table.put_item(
            Item={
                keys.PK: keys.model_pk(event.name),
                keys.SK: keys.audit_sk(event.version, event.execution, event.step),
                "kind": "audit",
                "name": event.name,
                "version": event.version,
                "execution": event.execution,
                "step": event.step,
                "outcome": event.outcome,
                "reason": event.reason,
                "actor": event.actor,
                "at": now_iso(),
                "detail": to_dynamo(detail or {}),
            }
        )

    def put_attestation(
        self,
        name: str,
        version: str,
        issued_at: str,
        statement_sha256: str,
        envelope: str,
        occasion: str,
        keep: int,
    ) -> None:
        """Keep an attestation this environment issued about a version, and only the newest
        ``keep`` of them issued on the same occasion: a version asked for attestations again
        and again stays bounded, and those requests never push out what was signed as it
        happened (its approval, its going live)."""
        self._table.put_item(
            Item={
                keys.PK: keys.model_pk(name),
                keys.SK: keys.attestation_sk(version, issued_at),
                "kind": "attestation",
                "name": name,
                "version": version,
                "issued_at": issued_at,
                "statement_sha256": statement_sha256,
                "occasion": occasion,
                "envelope": envelope,
            }
        )
        stored = self._query(keys.model_pk(name), keys.attestation_prefix(version))
        alike = [item for item in stored if item.get("occasion") == occasion]
        for old in sorted(alike, key=lambda item: item[keys.SK])[:-keep]:
            self._table.delete_item(Key={keys.PK: old[keys.PK], keys.SK: old[keys.SK]})

    def attestations(self, name: str, version: str) -> list[dict[str, Any]]:
        """The attestations this environment issued about a version, oldest first."""
        stored = self._query(keys.model_pk(name), keys.attestation_prefix(version))
        return sorted(stored, key=lambda item: item[keys.SK])

    def put_monitor_report(self, summary: dict[str, Any]) -> None:
        """Write a monitor report's summary; the same version and window end overwrite the
        item (the job may run a window again: the newest computation is the report). A
        report of live traffic also becomes the model's newest verdict on its summary item,
        unless a newer window's is there already: a model listing reads it for free."""
        self._table.put_item(Item=items.monitor_report_item(summary))
        if summary.get("role", Role.LIVE) == Role.LIVE:
            self._note_monitor_verdict(summary)

    def _note_monitor_verdict(self, summary: dict[str, Any]) -> bool:
        """The model summary's ``monitor`` map, only from a window ending no earlier than the
        one it holds (reports of several windows may be written in any order); never on a
        model without a summary (an update would create a stray one)."""
        verdict = items.monitor_verdict(summary)
        return _applied_if_condition_holds(
            self._table.update_item,
            Key={keys.PK: keys.model_pk(summary["model"]), keys.SK: keys.MODEL_SK},
            UpdateExpression="SET monitor = :verdict",
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(monitor) OR monitor.window_end <= :end)",
            ExpressionAttributeValues={":verdict": verdict, ":end": verdict["window_end"]},
        )

    # -- reads ----------------------------------------------------------------------------

    def get_version(self, name: str, version: str) -> dict[str, Any] | None:
        return self._get(keys.model_pk(name), keys.version_sk(version))

    def get_pointer(self, name: str, stage: Stage = Stage.LIVE) -> dict[str, Any] | None:
        return self._get(keys.model_pk(name), keys.stage_sk(stage))

    def audit_history(self, name: str, version: str) -> list[dict[str, Any]]:
        """Audit events of one version, oldest first."""
        items = self._query(keys.model_pk(name), keys.audit_prefix(version))
        return sorted(items, key=lambda item: item["at"])

    def monitor_reports(
        self, name: str, version: str, limit: int = 20, *, window_hours: int | None = None
    ) -> list[dict[str, Any]]:
        """A version's newest monitor report summaries, newest first (one Query, bounded).
        ``window_hours``: only reports over a window that long, looked for among the newest
        ``MONITOR_REPORTS_SCANNED`` (most reports are the schedule's, of one length)."""
        from boto3.dynamodb.conditions import Attr, Key

        query: dict[str, Any] = {
            "KeyConditionExpression": Key(keys.PK).eq(keys.model_pk(name))
            & Key(keys.SK).begins_with(keys.monitor_prefix(version)),
            "ScanIndexForward": False,
        }
        if window_hours is None:
            response = self._table.query(**query, Limit=limit)
            return [from_dynamo(item) for item in response.get("Items", [])]
        found: list[dict[str, Any]] = []
        read = 0
        page = max(2 * limit, 50)  # usually enough: most reports are of the asked length
        while len(found) < limit and read < MONITOR_REPORTS_SCANNED:
            # a filtered Query's Limit counts the items read, not the ones kept: page on,
            # each page twice the last, so a rare window costs a few Queries, not one per item
            response = self._table.query(
                **query,
                Limit=min(page, MONITOR_REPORTS_SCANNED - read),
                FilterExpression=Attr("window.hours").eq(window_hours),
            )
            page *= 2
            read += int(response.get("ScannedCount", 0))
            found += [from_dynamo(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    def versions_using_dataset(self, sha256: str) -> list[dict[str, Any]]:
        return self._query(keys.dataset_pk(sha256), "MODEL#")

    def dataset_users(
        self, sha256: str, limit: int = 50, start: dict[str, Any] | None = None
    ) -> Page:
        """One page of the versions that used a dataset, each edge saying if it is live."""
        from boto3.dynamodb.conditions import Key

        partition = keys.dataset_pk(sha256)
        return self._page(
            start,
            (keys.PK, partition),
            KeyConditionExpression=Key(keys.PK).eq(partition),
            Limit=limit,
        )

    def code_users(
        self, repository: str, commit: str, limit: int = 50, start: dict[str, Any] | None = None
    ) -> Page:
        """One page of the versions built from a commit of a code repository."""
        from boto3.dynamodb.conditions import Key

        partition = keys.code_pk(repository, commit)
        return self._page(
            start,
            (keys.PK, partition),
            KeyConditionExpression=Key(keys.PK).eq(partition),
            Limit=limit,
        )

    def list_models(self, limit: int = 50, start: dict[str, Any] | None = None) -> Page:
        """Model summaries in name order, through the MODELS index."""
        from boto3.dynamodb.conditions import Key

        return self._page(
            start,
            (keys.MODELS_INDEX_PK, keys.MODELS_PARTITION),
            IndexName=keys.MODELS_INDEX,
            KeyConditionExpression=Key(keys.MODELS_INDEX_PK).eq(keys.MODELS_PARTITION),
            Limit=limit,
        )

    def list_versions(
        self,
        name: str,
        status: VersionStatus | None = None,
        limit: int = 50,
        start: dict[str, Any] | None = None,
    ) -> Page:
        """Versions of a model in key order, optionally only those with ``status``."""
        from boto3.dynamodb.conditions import Attr, Key

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(keys.PK).eq(keys.model_pk(name))
            & Key(keys.SK).begins_with(keys.VERSION_PREFIX),
            "Limit": limit,
        }
        if status:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        return self._page(start, (keys.PK, keys.model_pk(name)), **kwargs)

    def all_versions(self, name: str, status: VersionStatus) -> list[dict[str, Any]]:
        """Every version of a model with ``status``, however many pages that takes."""
        found: list[dict[str, Any]] = []
        start = None
        while True:
            page = self.list_versions(name, status=status, limit=500, start=start)
            found.extend(page.items)
            if page.next_key is None:
                return found
            start = page.next_key

    def every_version(self, name: str) -> list[dict[str, Any]]:
        """Every version item of a model, whatever its status or shape (slipway doctor)."""
        return self._query(keys.model_pk(name), keys.VERSION_PREFIX)

    def get_model(self, name: str) -> dict[str, Any] | None:
        return self._get(keys.model_pk(name), keys.MODEL_SK)

    def model_overviews(self, summaries: list[dict[str, Any]]) -> dict[str, ModelOverview]:
        """For each model summary of a listing page: its live and staging pointers and its
        newest version, read in BatchGetItem calls of 100 keys (three keys a model), not one
        GetItem each: a page costs a bounded number of calls, however long it is."""
        wanted: dict[str, dict[str, tuple[str, str]]] = {}
        for summary in summaries:
            name, pk = summary["name"], keys.model_pk(summary["name"])
            wanted[name] = {
                "live": (pk, keys.stage_sk(Stage.LIVE)),
                "staging": (pk, keys.stage_sk(Stage.STAGING)),
            }
            if summary.get("latest_version"):
                wanted[name]["latest"] = (pk, keys.version_sk(str(summary["latest_version"])))
        found = self._batch_get([key for parts in wanted.values() for key in parts.values()])
        return {
            name: ModelOverview(
                live=found.get(parts["live"]),
                staging=found.get(parts["staging"]),
                latest=found.get(parts["latest"]) if "latest" in parts else None,
            )
            for name, parts in wanted.items()
        }

    def _batch_get(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The items under ``wanted`` keys that exist (the overview's attributes only), by
        key; UnprocessedKeys asked for again a bounded number of times, then an error."""
        unique = list(dict.fromkeys(wanted))  # a key twice in one request is refused
        names = {f"#a{i}": attribute for i, attribute in enumerate(OVERVIEW_ATTRIBUTES)}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(unique), BATCH_GET_KEYS):
            request = {
                self._table.name: {
                    "Keys": [
                        {keys.PK: pk, keys.SK: sk}
                        for pk, sk in unique[start : start + BATCH_GET_KEYS]
                    ],
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                    "ConsistentRead": True,
                }
            }
            for retry in range(UNPROCESSED_RETRIES + 1):
                if retry:
                    time.sleep(UNPROCESSED_PAUSE_SECONDS * 2 ** (retry - 1))
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    found[(item[keys.PK], item[keys.SK])] = from_dynamo(item)
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:
                raise TableBusyError(
                    "DynamoDB left part of a model listing unread after "
                    f"{UNPROCESSED_RETRIES} retries; try again"
                )
        return found

    def _page(
        self, start: dict[str, Any] | None, partition: tuple[str, str], **kwargs: Any
    ) -> Page:
        """One page of a Query. A start key comes from a caller's token: it must be a key of
        the queried index inside the queried partition, else DynamoDB refuses it (a 500) or,
        worse, the page starts somewhere else."""
        if start:
            attribute, value = partition
            expected = {keys.PK, keys.SK}
            if "IndexName" in kwargs:
                expected |= {keys.MODELS_INDEX_PK, keys.MODELS_INDEX_SK}
            if set(start) != expected or start[attribute] != value:
                raise InvalidPageTokenError("next_token was not issued for this listing")
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        return Page(
            items=[from_dynamo(item) for item in response.get("Items", [])],
            next_key=response.get("LastEvaluatedKey"),
        )

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={keys.PK: pk, keys.SK: sk}, ConsistentRead=True).get("Item")
        return from_dynamo(item) if item else None

    def _query(self, pk: str, sk_prefix: str, consistent: bool = False) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(sk_prefix),
            "ConsistentRead": consistent,
        }
        while True:
            page = self._table.query(**kwargs)
            items.extend(from_dynamo(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
