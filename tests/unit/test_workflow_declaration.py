"""The promotion workflow's declaration agrees with the code it names and the document it
describes; a rename on one side without the other fails here, in milliseconds."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from registry import workflow as steps
from registry.audit import ABOUT_ENDED_HOLDERS, AuditStep
from registry.exceptions import InvalidStateError
from registry.names import NAME_PATTERN, VERSION_PATTERN
from registry.workflow import PROMOTION, Choice, Condition, SucceedIf, Task, Wait, walk
from registry.workflow_state import (
    ApprovalRequest,
    Document,
    LockRequest,
    PromotionState,
    StepError,
    field_model,
    json_path,
)
from tests.conftest import load_event
from tests.unit.gate import resolve


@pytest.mark.parametrize("task", PROMOTION.tasks(), ids=lambda task: task.state)
def test_each_task_names_a_handler_that_exists(task: Task):
    handler = resolve(task.handler)
    assert list(inspect.signature(handler).parameters) == ["event", "context"]


@pytest.mark.parametrize("task", PROMOTION.tasks(), ids=lambda task: task.state)
def test_each_task_answers_into_a_typed_field_of_the_state_document(task: Task):
    assert issubclass(task.result_type, Document)
    assert task.result in PromotionState.model_fields
    assert task.result_path == f"$.{task.result}"


def test_state_names_are_unique():
    names = PROMOTION.state_names()
    assert len(names) == len(set(names)), names


def test_every_path_the_workflow_reads_is_a_field_of_the_document():
    for node in walk(PROMOTION.nodes):
        if isinstance(node, Choice | SucceedIf):
            field_model(*node.when.path.removeprefix("$.").split("."))
        if isinstance(node, Wait):
            assert field_model(*node.seconds_path.removeprefix("$.").split(".")) is int
    assert json_path("failure", "reason") == PROMOTION.failure_cause


def test_a_declaration_naming_a_missing_field_fails_at_once():
    with pytest.raises(KeyError, match=r"staged\.approval is not a field of the state document"):
        Condition(json_path("staged", "approval"), equals="manual")
    with pytest.raises(KeyError, match="promotion is not a field"):
        Task("Promote", "x.y", steps.Package.CONTROL_PLANE, result="promotion", description="")


def test_no_two_steps_write_the_same_audit_event():
    written = [
        step
        for task in PROMOTION.tasks()
        for step in task.audit
        if step not in ABOUT_ENDED_HOLDERS  # keyed by the ended holder, one event whoever writes
    ]
    assert len(written) == len(set(written)), written
    # the registry's decisions write the others: a person's approval, a rollback and the
    # promotion it cancels, a retry, and an operator's `slipway unlock`
    decided = {
        AuditStep.APPROVAL,
        AuditStep.ROLLBACK,
        AuditStep.CANCEL,
        AuditStep.RETRY,
        AuditStep.UNLOCK,
    }
    assert set(AuditStep) == {*written, *decided, *ABOUT_ENDED_HOLDERS}


def test_steps_that_touch_the_table_are_told_which_one():
    for task in PROMOTION.tasks():
        if task.package == steps.Package.CONTROL_PLANE and task is not steps.RELEASE_LOCK:
            assert task.table_actions, task.state


def test_the_policy_is_the_first_thing_the_workflow_writes():
    first = PROMOTION.nodes[0]
    assert isinstance(first, steps.SetPolicy) and first.result_path == "$.policy"


def test_a_caught_error_lands_in_a_typed_field_of_the_document():
    # GIVEN the declaration WHEN a step fails THEN Catch stores a StepError where it says
    assert field_model(PROMOTION.error) is StepError
    assert PROMOTION.error_path == f"$.{PROMOTION.error}"
    with pytest.raises(ValueError, match="'failure' field is not a StepError"):
        dataclasses.replace(PROMOTION, error="failure")


def test_the_task_token_steps_receive_their_token_and_only_they_do():
    waiting = [task for task in PROMOTION.tasks() if task.waits_for_task_token]
    assert waiting == [steps.ACQUIRE_LOCK, steps.WAIT_FOR_APPROVAL]
    assert steps.WAIT_FOR_APPROVAL.input is ApprovalRequest
    # AcquireLock receives the state with its own execution's ARN and start, and its token
    assert steps.ACQUIRE_LOCK.input is LockRequest
    others = {task.input for task in PROMOTION.tasks() if task not in waiting}
    assert others == {PromotionState}
    with pytest.raises(ValueError, match="receives a request with the token"):
        dataclasses.replace(steps.WAIT_FOR_APPROVAL, input=PromotionState)
    with pytest.raises(ValueError, match="receives a request with the token"):
        dataclasses.replace(steps.PROMOTE, input=ApprovalRequest)
    # each wait that nobody answers ends in its own state, naming its own error
    timed_out = [task.token_wait.timed_out_state for task in waiting if task.token_wait]
    assert len(set(timed_out)) == len(waiting) and set(timed_out) <= set(PROMOTION.state_names())


def test_the_approval_request_template_is_the_request_model():
    # GIVEN a state document as an execution starts WHEN the template is filled with it
    state = load_event("promotion_state_start.json")
    request = ApprovalRequest.parse(ApprovalRequest.template(state, "token"))
    # THEN it parses as the request the approval function reads
    assert request.task_token == "token" and request.state.key == state["key"]


def test_the_lock_request_template_is_the_request_model():
    state = load_event("promotion_state_start.json")
    arn = "arn:aws:states:eu-west-1:123456789012:execution:slipway-prod-promotion:iris-1-abc"
    started = "2026-12-03T10:00:00.000Z"
    request = LockRequest.parse(LockRequest.template(state, arn, started, "token"))
    assert request.execution_arn == arn and request.state.key == state["key"]
    assert request.started_at == started and request.task_token == "token"
    with pytest.raises(InvalidStateError, match="execution_arn"):
        LockRequest.parse(
            LockRequest.template(state, "arn:aws:lambda:eu-west-1:1:function:x", started, "t")
        )


STEP_FUNCTIONS_STATE_LIMIT = 256 * 1024  # bytes of a state's input or output
BYTES_PER_CHARACTER = 6  # the worst JSON can make of one character: \u0000
# identifiers whose patterns allow only characters JSON writes as they are
PLAIN_PATTERNS = {
    NAME_PATTERN.pattern,
    VERSION_PATTERN.pattern,
    r"^[0-9a-f]{64}$",
    r"^[A-Za-z0-9_-]{1,80}$",
}


def worst_case_bytes(schema: dict, definitions: dict) -> int:
    """The most bytes a value of this JSON schema can take; fails on anything unbounded."""
    if "$ref" in schema:
        return worst_case_bytes(definitions[schema["$ref"].split("/")[-1]], definitions)
    if "anyOf" in schema:
        return max(worst_case_bytes(option, definitions) for option in schema["anyOf"])
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return max(len(json.dumps(value)) for value in values)
    kind = schema.get("type")
    if kind == "string":
        assert "maxLength" in schema, f"a text of the state document has no bound: {schema}"
        plain = schema.get("pattern") in PLAIN_PATTERNS
        per_character = 1 if plain else 2 if schema.get("x-ascii") else BYTES_PER_CHARACTER
        return 2 + per_character * schema["maxLength"]
    if kind in ("number", "integer", "boolean", "null"):
        return 32
    if kind == "object" and "patternProperties" in schema:  # a map with checked keys
        assert "maxProperties" in schema, f"a map of the state document has no bound: {schema}"
        ((pattern, values),) = schema["patternProperties"].items()
        key = {"type": "string", "pattern": pattern, **schema.get("propertyNames", {})}
        entry = worst_case_bytes(key, definitions) + 2 + worst_case_bytes(values, definitions)
        return 2 + schema["maxProperties"] * entry
    if kind == "object" and "properties" in schema:
        assert not schema.get("additionalProperties", False), schema
        return 2 + sum(
            len(name) + 4 + worst_case_bytes(value, definitions)
            for name, value in schema["properties"].items()
        )
    raise AssertionError(f"the state document holds a value of unbounded size: {schema}")


def test_the_state_document_can_never_pass_step_functions_limit():
    # GIVEN every field of the document at its largest, every character escaped
    schema = PromotionState.model_json_schema()
    largest = worst_case_bytes(schema, schema.get("$defs", {}))
    # THEN it fits the 256 KiB a Step Functions state may hold: no manifest, whatever its
    # size, can end an execution where no Catch sees it
    assert largest < STEP_FUNCTIONS_STATE_LIMIT, largest


def test_start_times_compare_as_strings_in_one_width():
    from functions.promotion_lock.handler import comparable_time

    whole, fraction = comparable_time("2026-12-03T10:00:01Z"), "2026-12-03T10:00:01.192Z"
    assert whole == "2026-12-03T10:00:01.000+00:00"
    assert whole < comparable_time(fraction) < comparable_time("2026-12-03T10:00:02+00:00")
