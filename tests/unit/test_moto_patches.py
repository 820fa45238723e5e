"""The moto internals the embedded cloud patches are where the patches expect them.

A moto upgrade that moves or reshapes one fails here, naming it, instead of leaving an
embedded cloud that silently behaves unlike AWS."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from slipway.local import moto_patches
from slipway.local.moto_patches import MotoPatchError, check_targets, moto_internal


def test_every_patched_moto_internal_exists_with_the_expected_signature():
    check_targets()


def test_a_moved_internal_is_named_with_what_to_do():
    class Backend:
        def invoke(self, function_name, body): ...

    with pytest.raises(MotoPatchError, match=r"has no Backend.run; .*moto_patches.py"):
        moto_internal(Backend, "run", ("self",))
    with pytest.raises(MotoPatchError, match=r"changed Backend.invoke\('self', 'function_name'"):
        moto_internal(Backend, "invoke", ("self", "function_name", "qualifier", "body"))


@mock_aws
def test_a_moto_lambda_function_and_its_url_have_every_attribute_the_patches_read():
    from moto.awslambda.models import lambda_backends

    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}", Path="/")[
        "Role"
    ]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName="probe",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    boto3.client("lambda").create_function_url_config(FunctionName="probe", AuthType="AWS_IAM")
    (function,) = lambda_backends["123456789012"]["us-east-1"].list_functions()
    missing = [a for a in moto_patches.LAMBDA_FUNCTION_ATTRIBUTES if not hasattr(function, a)]
    assert not missing, f"moto's LambdaFunction no longer has {missing}"
    url = function.url_config
    missing = [a for a in moto_patches.FUNCTION_URL_CONFIG_ATTRIBUTES if not hasattr(url, a)]
    assert not missing, f"moto's FunctionUrlConfig no longer has {missing}"


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
def test_an_ended_execution_is_announced_on_eventbridge_unless_its_rule_is_disabled():
    # as AWS does: a status change event on the default bus; nothing for a disabled rule
    import json

    from tests.unit.gate import lock_token, token_waiting_machine

    moto_patches.abort_stopped_executions()
    moto_patches.honour_disabled_rules()
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="ended")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED"]},
    }
    events.put_rule(Name="ended", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="ended", Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
    )
    machine, _ = token_waiting_machine("announced", waits=("Lock",))
    sfn = boto3.client("stepfunctions")

    def stopped(name: str) -> list[dict]:
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input='{"key": "k"}')[
            "executionArn"
        ]
        lock_token(arn)  # it runs, waiting for its first token (moto cannot stop it sooner)
        sfn.stop_execution(executionArn=arn)
        received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
        return [json.loads(m["Body"]) for m in received]

    (event,) = stopped("first")
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["source"] == "aws.states" and event["resources"][0].endswith(":first")
    detail = event["detail"]
    assert (detail["name"], detail["status"]) == ("first", "ABORTED")
    assert detail["stateMachineArn"] == machine and json.loads(detail["input"]) == {"key": "k"}
    events.disable_rule(Name="ended")
    assert stopped("second") == []
    events.enable_rule(Name="ended")  # and enabled again, it delivers again
    assert [e["detail"]["name"] for e in stopped("third")] == ["third"]


def test_an_asymmetric_kms_key_from_cloudformation_signs(monkeypatch):
    # GIVEN moto's CloudFormation taught by the embedded cloud (its patch undone afterwards)
    from moto.kms import models as kms_models

    monkeypatch.setattr(
        kms_models.Key,
        "create_from_cloudformation_json",
        kms_models.Key.create_from_cloudformation_json,
    )
    moto_patches._patch_kms_key()
    template = {
        "Resources": {
            "Signing": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeySpec": "ECC_NIST_P256",
                    "KeyUsage": "SIGN_VERIFY",
                    "KeyPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "kms:*",
                                "Resource": "*",
                            }
                        ],
                    },
                },
            },
            "Sealing": {
                "Type": "AWS::KMS::Key",
                "Properties": {"EnableKeyRotation": True, "KeyPolicy": {}},
            },
        }
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="keys", TemplateBody=json.dumps(template))
        ids = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.describe_stack_resources(StackName="keys")["StackResources"]
        }
        kms = boto3.client("kms")
        # WHEN the asymmetric key signs THEN it is the key the template asked for
        signing = kms.describe_key(KeyId=ids["Signing"])["KeyMetadata"]
        assert (signing["KeyUsage"], signing["KeySpec"]) == ("SIGN_VERIFY", "ECC_NIST_P256")
        kms.sign(
            KeyId=ids["Signing"],
            Message=b"m",
            MessageType="RAW",
            SigningAlgorithm="ECDSA_SHA_256",
        )
        # AND a key asking for the default is still moto's symmetric key, rotation kept
        sealing = kms.describe_key(KeyId=ids["Sealing"])["KeyMetadata"]
        assert sealing["KeySpec"] == "SYMMETRIC_DEFAULT"
        assert kms.get_key_rotation_status(KeyId=ids["Sealing"])["KeyRotationEnabled"]


def _lineage_like_table() -> object:
    """A table shaped like the lineage table: 40 partitions of 30 items, one summary item
    per partition in an index (gsi1), as the registry writes them."""
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    attributes = ("pk", "sk", "gsi1pk", "gsi1sk")
    table = dynamodb.create_table(
        TableName="lineage",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    with table.batch_writer() as batch:
        for model in range(40):
            pk = f"MODEL#m{model:02}"
            batch.put_item(Item={"pk": pk, "sk": "MODEL", "gsi1pk": "MODELS", "gsi1sk": pk})
            for n in range(29):
                batch.put_item(Item={"pk": pk, "sk": f"VERSION#{n}", "status": f"s{n % 3}"})
    return table


@mock_aws
def test_a_query_answers_as_moto_does_reading_only_what_can_match(monkeypatch):
    from boto3.dynamodb.conditions import Attr, Key
    from moto.dynamodb.models.table import Table

    # GIVEN a table of 1,200 items in 40 partitions, and queries of every shape the
    # registry makes (prefixes, pages, reverse order, filters, the models index)
    table = _lineage_like_table()
    moto_patches.query_only_what_can_match()
    queries = [
        {"KeyConditionExpression": Key("pk").eq("MODEL#m07")},
        {"KeyConditionExpression": Key("pk").eq("MODEL#m07") & Key("sk").begins_with("VERSION#1")},
        {"KeyConditionExpression": Key("pk").eq("MODEL#m07"), "Limit": 7},
        {"KeyConditionExpression": Key("pk").eq("MODEL#m07"), "ScanIndexForward": False},
        {
            "KeyConditionExpression": Key("pk").eq("MODEL#m07"),
            "FilterExpression": Attr("status").eq("s1"),
        },
        {"KeyConditionExpression": Key("pk").eq("MODEL#nobody")},
        {"IndexName": "gsi1", "KeyConditionExpression": Key("gsi1pk").eq("MODELS"), "Limit": 9},
        {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq("MODELS"),
            "ScanIndexForward": False,
        },
        {"IndexName": "gsi1", "KeyConditionExpression": Key("gsi1pk").eq("NOBODY")},
    ]

    def answers() -> list:
        found = []
        for query in queries:
            page = table.query(**query)
            pages = [page["Items"]]
            while "LastEvaluatedKey" in page and len(pages) < 10:
                page = table.query(**query, ExclusiveStartKey=page["LastEvaluatedKey"])
                pages.append(page["Items"])
            found.append(pages)
        return found

    # WHEN they are answered by the patched Query, and by moto's own
    seen: list[int] = []
    narrowed_all_items = Table.all_items

    def counted(self):
        items = narrowed_all_items(self)
        seen.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counted)
    patched = answers()
    monkeypatch.setattr(Table, "all_items", narrowed_all_items.original)
    monkeypatch.setattr(Table, "query", Table.query.original)
    own = answers()
    # THEN the answers are the same, page by page
    assert patched == own
    assert [len(pages[0]) for pages in patched] == [30, 11, 7, 30, 10, 0, 9, 40, 0]
    # AND a table query read its partition, an index query the index's partition, never all
    assert seen and max(seen) <= 40


@mock_aws
def test_a_projection_answers_as_motos_own(monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item

    # GIVEN items with nested maps and lists, as version items carry manifests
    table = _lineage_like_table()
    table.put_item(
        Item={
            "pk": "MODEL#m01",
            "sk": "VERSION#big",
            "status": "live",
            "lineage": {
                "code": {"commit": "abc", "dirty": False},
                "datasets": [{"u": 1}, {"u": 2}],
            },
            "bundle": {"digest": "d" * 64, "size": 10},
            "#odd": "a name with a hash",
        }
    )
    moto_patches.project_only_named_attributes()
    projections = [
        ("#s, #b", {"#s": "status", "#b": "bundle"}),
        (
            "#l.#c.#m, #b.#z",
            {"#l": "lineage", "#c": "code", "#m": "commit", "#b": "bundle", "#z": "size"},
        ),
        ("lineage.datasets[1], #n", {"#n": "nothing"}),
        ("#o, pk", {"#o": "#odd"}),
    ]
    key = {"pk": "MODEL#m01", "sk": "VERSION#big"}

    def answers() -> list:
        found = []
        for expression, names in projections:
            asked = {"ProjectionExpression": expression, "ExpressionAttributeNames": names}
            found.append(table.get_item(Key=key, **asked).get("Item"))
            found.append(
                table.meta.client.batch_get_item(
                    RequestItems={"lineage": {"Keys": [key], **asked}}
                )["Responses"]["lineage"]
            )
        return found

    # WHEN they are answered by the patched projection, and by moto's own
    patched = answers()
    monkeypatch.setattr(Item, "project", Item.project.original)
    own = answers()
    # THEN they are the same
    assert patched == own
    assert patched[2] == {"lineage": {"code": {"commit": "abc"}}, "bundle": {"size": 10}}


@mock_aws
def test_an_index_partition_kept_between_queries_follows_every_write():
    from boto3.dynamodb.conditions import Key

    # GIVEN the models index read once (its partition is then kept)
    table = _lineage_like_table()
    client = table.meta.client
    moto_patches.query_only_what_can_match()
    moto_patches.count_dynamodb_writes()

    def models() -> list[str]:
        query = {"IndexName": "gsi1", "KeyConditionExpression": Key("gsi1pk").eq("MODELS")}
        return [item["gsi1sk"] for item in table.query(**query)["Items"]]

    assert len(models()) == 40
    # WHEN items join and leave it by every kind of write
    table.put_item(Item={"pk": "MODEL#new", "sk": "MODEL", "gsi1pk": "MODELS", "gsi1sk": "a"})
    assert "a" in models()
    table.update_item(  # an existing item joins in place
        Key={"pk": "MODEL#m03", "sk": "VERSION#1"},
        UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
        ExpressionAttributeValues={":p": "MODELS", ":s": "b"},
    )
    assert "b" in models()
    table.update_item(  # and leaves in place
        Key={"pk": "MODEL#m03", "sk": "VERSION#1"}, UpdateExpression="REMOVE gsi1pk"
    )
    assert "b" not in models()
    client.transact_write_items(  # the resource's client takes Python values
        TransactItems=[
            {"Delete": {"TableName": "lineage", "Key": {"pk": "MODEL#new", "sk": "MODEL"}}},
            {
                "Put": {
                    "TableName": "lineage",
                    "Item": {"pk": "MODEL#t", "sk": "MODEL", "gsi1pk": "MODELS", "gsi1sk": "c"},
                }
            },
        ]
    )
    with table.batch_writer() as batch:
        batch.put_item(Item={"pk": "MODEL#u", "sk": "MODEL", "gsi1pk": "MODELS", "gsi1sk": "d"})
    # THEN each query answers what the table holds now
    found = models()
    assert "a" not in found and {"c", "d"} <= set(found) and len(found) == 42


@mock_aws
def test_attribute_values_written_directly_answer_as_motos_serializer(monkeypatch):
    from decimal import Decimal

    from moto.core import serialize

    # GIVEN items holding every kind of attribute value, nested, empty and binary ones too
    table = _lineage_like_table()
    client = boto3.client("dynamodb", region_name="us-east-1")
    odd = {
        "pk": "MODEL#m02",
        "sk": "VERSION#odd",
        "s": "text ü",
        "empty": "",
        "n": Decimal("3.25"),
        "big": Decimal("12345678901234567890"),
        "b": b"\x00\xffbytes",
        "ss": {"a", "b"},
        "ns": {Decimal(1), Decimal("2.5")},
        "bs": {b"\x01", b"\x02\x03"},
        "m": {"inner": {"deeper": [1, "two", b"\x04", None, True]}, "e": {}},
        "l": [[], {}, {"k": None}, False],
        "null": None,
        "yes": True,
        "no": False,
    }
    table.put_item(Item=odd)
    key = {"pk": {"S": "MODEL#m02"}, "sk": {"S": "VERSION#odd"}}
    query = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": key["pk"]}}
    calls = [
        ("get_item", {"TableName": "lineage", "Key": key}),
        (
            "get_item",
            {
                "TableName": "lineage",
                "Key": key,
                "ProjectionExpression": "m.inner, b, ss",
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        (
            "batch_get_item",
            {"RequestItems": {"lineage": {"Keys": [key, {**key, "sk": {"S": "x"}}]}}},
        ),
        ("query", {"TableName": "lineage", **query, "ReturnConsumedCapacity": "INDEXES"}),
        ("query", {"TableName": "lineage", **query, "Limit": 3}),
        ("scan", {"TableName": "lineage", "Limit": 50}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": "lineage", "Key": key}}]}),
        (
            "update_item",
            {
                "TableName": "lineage",
                "Key": key,
                "UpdateExpression": "SET s = :s",
                "ExpressionAttributeValues": {":s": {"S": "text ü"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "put_item",  # refused: the error carries the item
            {
                "TableName": "lineage",
                "Item": {**key, "s": {"S": "other"}},
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ),
        ("describe_table", {"TableName": "lineage"}),
    ]
    bodies: list[object] = []
    client.meta.events.register(
        "after-call.dynamodb.*",
        lambda http_response, **_: bodies.append(json.loads(http_response.content)),
    )

    def answers() -> list:
        bodies.clear()
        parsed = []
        for operation, arguments in calls:
            try:
                parsed.append(getattr(client, operation)(**arguments))
            except client.exceptions.ConditionalCheckFailedException as refused:
                parsed.append(refused.response)
        for answer in parsed:
            answer.pop("ResponseMetadata", None)
        return [parsed, list(bodies)]

    looked_up = {"members": 0}
    get_value = serialize.ResponseSerializer.get_value

    def counted(self, *args, **kwargs):
        looked_up["members"] += 1
        return get_value(self, *args, **kwargs)

    monkeypatch.setattr(serialize.ResponseSerializer, "get_value", counted)

    # WHEN they are answered with attribute values written directly, and by moto's own
    # (set first, so the test's end takes the patch away again for the tests after it)
    monkeypatch.setitem(serialize.SERVICE_SPECIFIC_SERIALIZERS, "dynamodb", {})
    moto_patches.serialize_attribute_values_directly()
    patched = answers()
    direct_lookups = looked_up["members"]
    monkeypatch.delitem(serialize.SERVICE_SPECIFIC_SERIALIZERS, "dynamodb")
    looked_up["members"] = 0
    own = answers()
    # THEN the raw bodies are the same, and so is what boto3 makes of them
    assert patched == own
    assert patched[0][0]["Item"]["b"] == {"B": b"\x00\xffbytes"}
    assert patched[0][0]["Item"]["m"]["M"]["inner"]["M"]["deeper"]["L"][3] == {"NULL": True}
    assert "Item" in patched[1][8]  # the refused put's error carries the item
    # AND the values were written directly: moto looked up a small share of the members
    assert direct_lookups * 5 < looked_up["members"]
