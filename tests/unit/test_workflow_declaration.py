"""The promotion workflow's declaration agrees with the code it names and the document it
describes; a rename on one side without the other fails here, in milliseconds."""

from __future__ import annotations

import inspect

import pytest

from registry import workflow as steps
from registry.audit import AuditStep
from registry.workflow import PROMOTION, Choice, Condition, SucceedIf, Task, Wait, walk
from registry.workflow_state import Document, PromotionState, field_model, json_path
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
    written = [step for task in PROMOTION.tasks() for step in task.audit]
    assert len(written) == len(set(written)), written
    # the registry's decisions write the others: a person's approval and a rollback
    assert set(AuditStep) == {*written, AuditStep.APPROVAL, AuditStep.ROLLBACK}


def test_steps_that_touch_the_table_are_told_which_one():
    for task in PROMOTION.tasks():
        if task.package == steps.Package.CONTROL_PLANE and task is not steps.RELEASE_LOCK:
            assert task.table_actions, task.state


def test_the_policy_is_the_first_thing_the_workflow_writes():
    first = PROMOTION.nodes[0]
    assert isinstance(first, steps.SetPolicy) and first.result_path == "$.policy"
