"""The lineage audit: which repositories are shareable, which dataset URIs durable, and the
sentences the gate refuses a version with."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from registry.lineage_audit import (
    MAX_DATASET_SHORTFALLS,
    MAX_QUOTED,
    LineagePolicy,
    is_durable_dataset_uri,
    is_shareable_repository,
    s3_dataset_uri,
    s3_version_of,
    shortfalls,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ALL = LineagePolicy(clean_commit=True, shareable_repository=True, durable_datasets=True)


def lineage(
    repository: str = "https://github.com/acme/models.git",
    commit: str = COMMIT,
    dirty: object = False,
    uris: tuple[str, ...] = ("s3://acme-data/train.csv?versionId=3HL4kqtJlcpXroDTDmJ",),
) -> dict:
    return {
        "code": {"repository": repository, "commit": commit, "dirty": dirty},
        "datasets": [{"role": "train", "uri": uri, "sha256": "a" * 64, "rows": 10} for uri in uris],
        "params": {},
        "metrics": {},
        "parent": None,
    }


# --- the policy ------------------------------------------------------------------------------


def test_policy_defaults_require_nothing_and_refuse_unknown_or_loose_fields() -> None:
    assert LineagePolicy() == LineagePolicy(
        clean_commit=False, shareable_repository=False, durable_datasets=False
    )
    with pytest.raises(ValidationError):
        LineagePolicy(clean_comit=True)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        LineagePolicy.model_validate({"clean_commit": "true"})  # strict: a string is no bool
    with pytest.raises(ValidationError):
        LineagePolicy.model_validate({"durable_datasets": 1})


def test_an_empty_policy_passes_even_a_lineage_that_says_nothing() -> None:
    assert shortfalls({}, LineagePolicy()) == []
    assert (
        shortfalls(
            lineage("file:///tmp/x", "unknown", True, ("file:///tmp/x.csv",)), LineagePolicy()
        )
        == []
    )


# --- shareable repositories ------------------------------------------------------------------

SHAREABLE = [
    "https://github.com/acme/models.git",
    "https://gitlab.example.com:8443/group/sub/models",
    "https://codecommit.eu-west-1.amazonaws.com/v1/repos/models",
    "git@github.com:acme/models.git",
    "github.com:acme/models.git",
    "ssh://git@github.com/acme/models.git",
    "ssh://git@git.example.com:2222/acme/models.git",
    "ssh://alice@git.example.com/srv/models.git",
    "https://10.1.2.3/acme/models.git",
]
NOT_SHAREABLE = [
    "",
    "file:///home/alice/models",
    "file://localhost/home/alice/models",
    "/home/alice/models",
    "./models",
    "../models",
    "models",
    "~/models",
    "C:\\work\\models",
    "C:/work/models",
    "http://github.com/acme/models.git",  # nothing vouches for who served it
    "git://github.com/acme/models.git",
    "ftp://github.com/acme/models.git",
    "https://github.com",  # a host, not a repository
    "https://github.com/",
    "https://localhost/acme/models",
    "https://LOCALHOST/acme/models",
    "https://localhost./acme/models",
    "https://repo.localhost/acme/models",
    "https://127.0.0.1/acme/models",
    "https://127.8.9.1/acme/models",
    "https://[::1]/acme/models",
    "https://0.0.0.0/acme/models",
    "https://169.254.169.254/acme/models",
    # this machine, spelled as resolvers read IPv4 (inet_aton) or as an IPv4-mapped IPv6
    "https://127.1/acme/models",
    "git@127.1:acme/models",
    "https://0177.0.0.1/acme/models",
    "ssh://git@0x7f.1/acme/models",
    "https://127.0.0.1./acme/models",
    "https://[::ffff:127.0.0.1]/acme/models",
    "git@[::ffff:7f00:1]:acme/models",
    "https://1.2.3.4.5/acme/models",  # numeric, yet no address
    "https://gitlab/acme/models",  # a bare name means another host on the next network
    "github:acme/models",  # an ssh alias from ~/.ssh/config
    "git@localhost:acme/models",
    "git@127.0.0.1:acme/models",
    "git@github.com:",
    "https://x-access-token:ghp_secret@github.com/acme/models",
    "https://alice@github.com/acme/models",
    "ssh://alice:secret@git.example.com/models.git",
    "https://github.com/acme/models?token=abc",
    "https://github.com/acme/models#main",
    "https://github.com:notaport/acme/models",
    "https://git hub.com/acme/models",
    "https://github.com/acme/models\n",
    "https://github.com/acme/\x00models",
    "https://github.com/" + "a" * 3000,
    "git@github.com:acme/models\r\nX-Injected: 1",
]


@pytest.mark.parametrize("url", SHAREABLE)
def test_shareable_repositories(url: str) -> None:
    assert is_shareable_repository(url)


@pytest.mark.parametrize("url", NOT_SHAREABLE)
def test_not_shareable_repositories(url: str) -> None:
    assert not is_shareable_repository(url)


@given(st.text(max_size=200))
def test_a_repository_without_a_dotted_host_is_never_shareable(text: str) -> None:
    """No text without a '.' (or an IPv6 literal) names a repository on another machine,
    and none raises."""
    if "." not in text and "[" not in text:
        assert not is_shareable_repository(text)


@given(st.text(max_size=200))
def test_local_forms_are_never_shareable(path: str) -> None:
    for url in (f"file://{path}", f"/{path}", f"./{path}", f"http://{path}", f"git://{path}"):
        assert not is_shareable_repository(url)


@given(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "0.0.0.0", "x.localhost"]), st.text())
def test_this_machine_is_never_shareable(host: str, path: str) -> None:
    for url in (f"https://{host}/{path}", f"ssh://git@{host}/{path}", f"git@{host}:{path}"):
        assert not is_shareable_repository(url)


# --- durable dataset URIs --------------------------------------------------------------------

HF = "hf://datasets/acme/churn@" + "0123456789abcdef" * 2 + "01234567/data/train.csv"
DURABLE = [
    "s3://acme-data/train.csv?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    "s3://acme.data-2/a/b/c.csv?versionId=abc",
    "s3://acme-data/with%20space%3F.csv?versionId=v1",  # key 'with space?.csv'
    HF,
]
NOT_DURABLE = [
    "",
    "file:///tmp/x.csv",
    "/tmp/x.csv",
    "train.csv",
    "dataframe:train",
    "s3://acme-data/train.csv",  # the key, whatever it holds tomorrow
    "s3://acme-data/train.csv?versionId=",
    "s3://acme-data/train.csv?versionId=null",  # an unversioned bucket's answer
    "s3://acme-data/train.csv?versionId",
    "s3://acme-data/train.csv?versionid=abc",
    "s3://acme-data/train.csv?VersionId=abc",
    "s3://acme-data/train.csv?versionId=a&versionId=b",
    "s3://acme-data/train.csv?versionId=a&x=1",
    "s3://acme-data/train.csv?versionId=a#frag",
    "s3://acme-data/train.csv?versionId=a%00b",
    "s3://acme-data/train.csv?versionId=a%0Ab",
    "s3://acme-data/?versionId=a",  # no key
    "s3://acme-data?versionId=a",
    "s3://Acme-Data/train.csv?versionId=a",  # not a bucket name
    "s3://ab/train.csv?versionId=a",
    "s3://acme..data/train.csv?versionId=a",
    "s3://-acme/train.csv?versionId=a",
    "s3://user@acme-data/train.csv?versionId=a",
    "s3://acme-data:443/train.csv?versionId=a",
    "s3:///train.csv?versionId=a",
    "s3://acme-data/tr%0Ain.csv?versionId=a",
    "https://acme-data.s3.amazonaws.com/train.csv?versionId=a",
    "s3a://acme-data/train.csv?versionId=a",
    "hf://datasets/acme/churn/data/train.csv",  # a branch's head moves
    "hf://datasets/acme/churn@main/data/train.csv",
    "hf://datasets/acme/churn@0123456/data/train.csv",  # abbreviated: ambiguous tomorrow
    "hf://datasets/acme/churn@" + "A" * 40 + "/data/train.csv",
    "hf://datasets/acme/churn@" + "a" * 40 + "/../other/train.csv",
    "hf://datasets/acme/churn@" + "a" * 40 + "/train.csv?x=1",
    "hf://acme/churn@" + "a" * 40 + "/train.csv",  # a model repository, not a dataset
    "hf://datasets/acme/churn@" + "a" * 40 + "/%2e%2e/other/train.csv",
    "s3://acme-data/" + "k" * 3000 + "?versionId=a",
]


@pytest.mark.parametrize("uri", DURABLE)
def test_durable_dataset_uris(uri: str) -> None:
    assert is_durable_dataset_uri(uri)


@pytest.mark.parametrize("uri", NOT_DURABLE)
def test_not_durable_dataset_uris(uri: str) -> None:
    assert not is_durable_dataset_uri(uri)


@pytest.mark.parametrize("value", [None, 3, b"s3://acme-data/k?versionId=a", ["x"], {}])
def test_what_is_not_text_is_neither_shareable_nor_durable(value: object) -> None:
    assert not is_shareable_repository(value)  # type: ignore[arg-type]
    assert not is_durable_dataset_uri(value)  # type: ignore[arg-type]


BUCKETS = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
KEYS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(" éß/"),
    min_size=1,
    max_size=80,
).filter(lambda key: key.strip() == key)
VERSION_IDS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
).filter(lambda version: version != "null")


@given(BUCKETS, KEYS, VERSION_IDS)
def test_what_slipway_records_for_an_s3_version_is_durable_and_reads_back(
    bucket: str, key: str, version: str
) -> None:
    uri = s3_dataset_uri(bucket, key, version)
    assert s3_version_of(uri) == (bucket, key, version)
    assert is_durable_dataset_uri(uri)


@given(BUCKETS, KEYS)
def test_an_s3_object_without_a_version_or_with_null_is_never_durable(
    bucket: str, key: str
) -> None:
    assert not is_durable_dataset_uri(s3_dataset_uri(bucket, key, "null"))
    assert not is_durable_dataset_uri(s3_dataset_uri(bucket, key, "x").split("?")[0])


@given(st.text(max_size=300))
def test_local_forms_are_never_durable(path: str) -> None:
    for uri in (f"file://{path}", f"/{path}", f"dataframe:{path}", f"http://{path}"):
        assert not is_durable_dataset_uri(uri)


# --- shortfalls ------------------------------------------------------------------------------


def test_a_lineage_that_complies_has_no_shortfalls() -> None:
    assert shortfalls(lineage(), ALL) == []
    assert shortfalls(lineage("git@github.com:acme/models.git", "b" * 64, uris=(HF,)), ALL) == []


def test_each_shortfall_names_the_field_and_its_value() -> None:
    bad = lineage(
        "file:///home/alice/models",
        "unknown",
        True,
        ("file:///tmp/x.csv", "s3://acme-data/x.csv?versionId=null", "s3://acme-data/x.csv"),
    )
    assert shortfalls(bad, ALL) == [
        "lineage.code.dirty is true: built from uncommitted changes in "
        "file:///home/alice/models at unknown; commit them and build again",
        "lineage.code.commit is unknown: not a full git commit hash (40 or 64 lowercase hex "
        "characters); build from a git checkout",
        "lineage.code.repository is file:///home/alice/models: not a shareable repository "
        "URL; build from a clone whose origin is https://host/..., ssh://host/... or "
        "git@host:... (a dotted host name, not this machine)",
        "dataset train file:///tmp/x.csv is not at a durable URI: use s3:// with a version "
        "id (slipway records it when you train from S3)",
        "dataset train s3://acme-data/x.csv?versionId=null is not at a durable URI: its "
        'version id is "null": the bucket was not versioned when the object was written; '
        "turn versioning on and write the data again",
        "dataset train s3://acme-data/x.csv is not at a durable URI: it names no object "
        "version: train from it with slipway (package_model or `slipway package --train "
        "s3://...`), which records the version id",
    ]


def test_only_what_the_policy_asks_for_is_judged() -> None:
    bad = lineage("file:///x", "unknown", True, ("file:///tmp/x.csv",))
    assert [s.split(" is ")[0] for s in shortfalls(bad, LineagePolicy(clean_commit=True))] == [
        "lineage.code.dirty",
        "lineage.code.commit",
    ]
    assert [s.split(":")[0] for s in shortfalls(bad, LineagePolicy(shareable_repository=True))] == [
        "lineage.code.repository is file"
    ]
    assert [s.split(" is ")[0] for s in shortfalls(bad, LineagePolicy(durable_datasets=True))] == [
        "dataset train file:///tmp/x.csv"
    ]


@pytest.mark.parametrize(
    ("dirty", "expected"),
    [
        (None, "lineage.code.dirty is missing, not false"),
        ("false", "lineage.code.dirty is false, not false"),  # a string, not the boolean
        (0, "lineage.code.dirty is 0, not false"),
    ],
)
def test_a_dirty_flag_that_is_not_the_boolean_false_falls_short(
    dirty: object, expected: str
) -> None:
    found = shortfalls(lineage(dirty=dirty), LineagePolicy(clean_commit=True))
    assert len(found) == 1 and found[0].startswith(expected)


@pytest.mark.parametrize(
    "commit",
    [
        "",
        "HEAD",
        "main",
        "unknown",
        COMMIT[:12],
        COMMIT.upper(),
        COMMIT + "\n",
        COMMIT + "0",
        None,
        7,
    ],
)
def test_a_commit_that_is_not_a_full_hash_falls_short(commit: object) -> None:
    found = shortfalls(lineage(commit=commit), LineagePolicy(clean_commit=True))  # type: ignore[arg-type]
    assert len(found) == 1 and found[0].startswith("lineage.code.commit is ")


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {},
        {"code": None, "datasets": None},
        {"code": "x", "datasets": "x"},
        {"code": {}, "datasets": []},
        {"code": {"repository": 3, "commit": [], "dirty": {}}, "datasets": [3, None, {}]},
    ],
)
def test_malformed_lineage_falls_short_and_never_raises(document: object) -> None:
    found = shortfalls(document, ALL)  # type: ignore[arg-type]
    assert found and all(isinstance(line, str) and line for line in found)


def test_values_quoted_back_are_bounded_and_printable() -> None:
    hostile = "file:///tmp/" + "\x1b[31m\n" * 400
    found = shortfalls(lineage(repository=hostile, uris=(hostile,)), ALL)
    assert len(found) == 2
    for line in found:
        assert len(line) < MAX_QUOTED + 400
        assert "\n" not in line and "\x1b" not in line


def test_many_datasets_short_are_counted_after_the_first_ones() -> None:
    uris = tuple(f"file:///tmp/{n}.csv" for n in range(MAX_DATASET_SHORTFALLS + 5))
    found = shortfalls(lineage(uris=uris), LineagePolicy(durable_datasets=True))
    assert len(found) == MAX_DATASET_SHORTFALLS + 1
    assert found[-1] == "and 5 more datasets not at durable URIs"


def test_a_version_without_datasets_falls_short_of_durable_datasets() -> None:
    found = shortfalls(lineage(uris=()), LineagePolicy(durable_datasets=True))
    assert found == ["lineage.datasets is empty: the version names no data it was trained on"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "code": st.fixed_dictionaries(
                {}, optional={"repository": JSON, "commit": JSON, "dirty": JSON}
            )
            | JSON,
            "datasets": st.lists(
                st.fixed_dictionaries({}, optional={"uri": JSON, "role": JSON}) | JSON,
                max_size=15,
            )
            | JSON,
        },
    )
)
def test_any_json_lineage_gets_an_answer_of_bounded_sentences(document: dict) -> None:
    json.dumps(document)
    found = shortfalls(document, ALL)
    assert isinstance(found, list)
    assert len(found) <= 3 + MAX_DATASET_SHORTFALLS + 1
    assert all(len(line) < 2 * MAX_QUOTED + 400 for line in found)
