"""The lineage policy's first version (the lineage-audit work refines and owns it)."""

from __future__ import annotations

from registry.lineage_audit import LineagePolicy, shortfalls

CLEAN = {
    "code": {
        "repository": "https://github.com/team/models.git",
        "commit": "a" * 40,
        "dirty": False,
    },
    "datasets": [{"role": "train", "uri": "s3://data/iris.csv?versionId=3HL4kqtJ", "rows": 1}],
}
STRICT = LineagePolicy(clean_commit=True, shareable_repository=True, durable_datasets=True)


def test_nothing_is_required_by_default():
    sloppy = {"code": {"repository": "/home/me/x", "dirty": True}, "datasets": []}
    assert shortfalls(sloppy, LineagePolicy()) == []


def test_lineage_that_complies_has_no_shortfall():
    assert shortfalls(CLEAN, STRICT) == []
    scp = CLEAN | {"code": CLEAN["code"] | {"repository": "git@github.com:team/models.git"}}
    assert shortfalls(scp, STRICT) == []


def test_each_shortfall_is_named():
    sloppy = {
        "code": {"repository": "file:///home/me/models", "commit": "b" * 40, "dirty": True},
        "datasets": [
            {"role": "train", "uri": "file:///tmp/iris.csv"},
            {"role": "evaluation", "uri": "s3://data/eval.csv"},
        ],
    }
    found = shortfalls(sloppy, STRICT)
    assert len(found) == 4
    assert "dirty" in found[0]
    assert "file:///home/me/models" in found[1]
    assert "file:///tmp/iris.csv" in found[2] and "s3://data/eval.csv" in found[3]
