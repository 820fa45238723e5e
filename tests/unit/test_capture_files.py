"""Reading captured traffic: every form AWS's delivery gives, and hostile objects."""

from __future__ import annotations

import gzip
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.monitoring.capture_files import (
    CaptureLimits,
    CaptureLine,
    ReadStats,
    capture_batches,
    capture_frames,
    feedback_labels,
    read_records,
)

NAMES = (["area", "city", "rooms"], ["prediction"])


def capture(request_id: str, inputs: list, outputs: list, **extra) -> dict:
    return {
        "message": "capture",
        "capture_format": 1,
        "request_id": request_id,
        "model": "house",
        "version": "3",
        "environment": "local",
        "time_ms": 1733563200000,
        "traffic": "live",
        "inputs": inputs,
        "outputs": outputs,
        "rows": len(inputs),
        "excluded": [],
        "truncated": False,
        **extra,
    }


RECORDS = [
    capture("r1", [[50.0, "paris", 2]], [100.0]),
    capture("r2", [[70.5, "lyon", 3], [80.0, None, 4]], [150.0, 160.0]),
    capture("r3", [{"area": 90.0, "city": "nice", "rooms": 5}], [200.0]),
]


def lines(records: list[dict]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def envelope(records: list[dict]) -> bytes:
    return json.dumps(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lambda/endpoint",
            "logStream": "2026/12/07/[$LATEST]abc",
            "subscriptionFilters": ["capture"],
            "logEvents": [
                {"id": str(i), "timestamp": 1733563200000, "message": json.dumps(record)}
                for i, record in enumerate(records)
            ],
        }
    ).encode()


FORMS = {
    "firehose gzip lines": [gzip.compress(lines(RECORDS))],
    "plain lines": [lines(RECORDS)],
    "gzip members of lines": [
        gzip.compress(lines(RECORDS[:1])) + gzip.compress(lines(RECORDS[1:]))
    ],
    "concatenated without newline": [b"".join(json.dumps(r).encode() for r in RECORDS)],
    "raw cloudwatch envelopes": [
        gzip.compress(envelope(RECORDS[:2])) + gzip.compress(envelope(RECORDS[2:]))
    ],
    "plain envelope": [envelope(RECORDS)],
    "several objects": [gzip.compress(lines(RECORDS[:2])), lines(RECORDS[2:])],
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_gives_every_record(form: str) -> None:
    # GIVEN the same three capture records delivered in one of the forms
    # WHEN they are read
    records = list(read_records(FORMS[form]))
    # THEN they are the records, in order
    assert [r["request_id"] for r in records] == ["r1", "r2", "r3"]
    assert records == RECORDS


def test_control_messages_and_junk_are_skipped_and_counted() -> None:
    control = json.dumps({"messageType": "CONTROL_MESSAGE", "logEvents": []}).encode()
    body = b"\n".join(
        [
            control,
            b"not json at all",
            b"[1, 2, 3]",
            b"\xff\xfe binary",
            json.dumps(RECORDS[0]).encode(),
            b"{broken",
        ]
    )
    stats = ReadStats()
    assert list(read_records([body], stats=stats)) == [RECORDS[0]]
    assert stats.junk_lines == 4


def test_a_gzip_bomb_stops_at_the_object_limit_and_keeps_what_fit() -> None:
    # GIVEN a gzip object of a few KiB that expands to 64 MiB after two real records
    bomb = gzip.compress(lines(RECORDS[:2]) + b" " * (64 * 1024 * 1024))
    assert len(bomb) < 200_000
    stats = ReadStats()
    # WHEN it is read with a 1 MiB limit per object
    records = list(read_records([bomb], limits=CaptureLimits(max_object_bytes=2**20), stats=stats))
    # THEN the records before the limit are read, the object counted as oversized
    assert [r["request_id"] for r in records] == ["r1", "r2"]
    assert stats.oversized_objects == 1


def test_a_line_past_the_line_limit_is_skipped() -> None:
    huge = json.dumps(capture("big", [["x" * 5000]], [0])).encode()
    body = huge + b"\n" + lines(RECORDS[:1])
    stats = ReadStats()
    records = list(read_records([body], limits=CaptureLimits(max_line_bytes=1000), stats=stats))
    assert [r["request_id"] for r in records] == ["r1"]
    assert stats.long_lines == 1


def test_reading_stops_at_the_record_limit() -> None:
    stats = ReadStats()
    records = list(
        read_records([lines(RECORDS * 10)], limits=CaptureLimits(max_records=4), stats=stats)
    )
    assert len(records) == 4
    assert stats.record_limit_reached


def test_a_truncated_gzip_object_keeps_its_whole_lines() -> None:
    whole = gzip.compress(lines(RECORDS))
    stats = ReadStats()
    records = list(read_records([whole[: len(whole) - 12]], stats=stats))
    assert stats.corrupt_objects == 1
    assert all(record in RECORDS for record in records)


def test_frames_put_rows_in_signature_order_whatever_their_form() -> None:
    # GIVEN rows sent as lists and as objects, another model's record and a feedback record
    other = {**RECORDS[0], "model": "other"}
    records = [*RECORDS, other, {"message": "feedback", "model": "house", "labels": []}]
    # WHEN the frames of version 3 are built
    window = capture_frames(records, model="house", signatures={"3": NAMES})["3"]
    # THEN one row per row sent, in arrival order, columns named by the signature
    assert window.inputs.columns.tolist() == ["area", "city", "rooms"]
    assert window.inputs["area"].tolist() == [50.0, 70.5, 80.0, 90.0]
    assert window.inputs["city"].tolist()[:2] == ["paris", "lyon"]
    assert window.inputs["city"].isna().tolist() == [False, False, True, False]
    assert window.outputs["prediction"].tolist() == [100.0, 150.0, 160.0, 200.0]
    assert window.keys[["request_id", "row"]].values.tolist() == [
        ["r1", 0],
        ["r2", 0],
        ["r2", 1],
        ["r3", 0],
    ]
    assert window.requests == 3


def test_excluded_columns_are_named_and_left_out() -> None:
    records = [
        capture("r1", [[50.0, None, 2]], [1.0], excluded=["city"]),
        capture("r2", [[60.0, None, 3]], [1.0], excluded=["city"]),
    ]
    window = capture_frames(records, model="house", signatures={"3": NAMES})["3"]
    assert window.excluded == {"city"}
    assert "city" not in window.inputs.columns


def test_the_fast_path_and_the_general_path_agree() -> None:
    one_row = [capture(f"r{i}", [[float(i), "a", i]], [float(i)]) for i in range(5)]
    fast = capture_frames(one_row, model="house", signatures={"3": NAMES})["3"]
    mixed = capture_frames(
        [*one_row, capture("m", [[9.0, "b", 9], [8.0, "c", 8]], [9.0, 8.0])],
        model="house",
        signatures={"3": NAMES},
    )["3"]
    assert mixed.inputs.head(5).equals(fast.inputs)
    assert mixed.rows == 7


def test_rows_past_the_row_limit_are_not_kept() -> None:
    records = [capture(f"r{i}", [[1.0, "a", 1]], [1.0]) for i in range(10)]
    stats = ReadStats()
    window = capture_frames(
        records,
        model="house",
        signatures={"3": NAMES},
        limits=CaptureLimits(max_rows=6),
        stats=stats,
    )["3"]
    assert window.rows == 6
    assert stats.row_limit_reached


def test_cells_that_are_not_scalars_become_missing() -> None:
    records = [
        capture("r1", [[{"x": 1}, "a", 1]], [1.0]),
        capture("r2", [[2.0, ["b"], 2]], [1.0]),
        capture("r3", [[3.0, "c", 3]], [1.0]),
    ]
    window = capture_frames(records, model="house", signatures={"3": NAMES})["3"]
    assert math.isnan(window.inputs["area"].astype(float).iloc[0])
    assert window.inputs["city"].isna().tolist() == [False, True, False]


def test_feedback_from_the_endpoint_and_from_bulk_files() -> None:
    records = [
        {
            "message": "feedback",
            "model": "house",
            "labels": [
                {"request_id": "r1", "row": 0, "label": 1},
                {"request_id": "r2", "label": 0},
                {"request_id": 7, "label": 0},
                "junk",
            ],
        },
        {"model": "house", "request_id": "r1", "row": 0, "label": 0},  # sent again: latest wins
        {"model": "other", "request_id": "r9", "row": 0, "label": 1},
    ]
    labels = feedback_labels(records, model="house")
    assert labels.values.tolist() == [["r2", 0, 0], ["r1", 0, 0]]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_read_without_crashing(body: bytes) -> None:
    for record in read_records([body, gzip.compress(body)]):
        assert isinstance(record, dict)


def as_lines(bodies: list[bytes], limits: CaptureLimits | None = None) -> tuple[list, ReadStats]:
    stats = ReadStats()
    return [
        line for batch in capture_batches(bodies, limits=limits, stats=stats) for line in batch
    ], stats


def as_records(bodies: list[bytes], limits: CaptureLimits | None = None) -> tuple[list, ReadStats]:
    stats = ReadStats()
    return [CaptureLine.of(r) for r in read_records(bodies, limits=limits, stats=stats)], stats


@pytest.mark.parametrize("form", sorted(FORMS))
def test_capture_lines_are_the_records_fields(form: str) -> None:
    """What the monitor job reads (only the fields it needs, decoded straight from the
    object) is what the records say, in every form."""
    lines_read, stats = as_lines(FORMS[form])
    assert lines_read == [CaptureLine.of(record) for record in RECORDS]
    assert lines_read[0].inputs == [[50.0, "paris", 2]] and lines_read[2].version == "3"
    assert stats == as_records(FORMS[form])[1]


# JSON lines as they may come: records, feedback, envelopes, junk, values that are not
# objects, NaN, big integers, blank and long lines
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["inputs", "model", "x"]), children, max_size=2)
    ),
    max_leaves=6,
)
LINE = st.one_of(
    st.builds(
        lambda extra: json.dumps({**RECORDS[0], **extra}),
        st.dictionaries(
            st.sampled_from(["model", "version", "inputs", "time_ms", "logEvents", "rows"]),
            JSON_VALUES,
            max_size=2,
        ),
    ),
    JSON_VALUES.map(json.dumps),
    st.just(json.dumps(json.loads(envelope(RECORDS[:1])))),
    st.sampled_from(["", "  ", "{not json", "[1,2]", '{"a":1}{"b":2}', "x" * 300]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=6), st.booleans())
def test_capture_lines_and_records_agree_on_any_object(objects: list[str], zipped: bool) -> None:
    """The job's reader (one decoding call an object, then the careful way when that fails)
    and the records reader give the same lines and the same counts, whatever the bytes."""
    body = "\n".join(objects).encode()
    bodies = [gzip.compress(body) if zipped else body, body]
    limits = CaptureLimits(max_line_bytes=200, max_records=7)
    assert as_lines(bodies, limits) == as_records(bodies, limits)


@pytest.mark.parametrize(
    "value",
    [b"[" * 2_000 + b"]" * 2_000, b"[" * 100_000 + b"]" * 100_000, b"9" * 5_000],
    ids=["nested 2,000 deep", "nested 100,000 deep", "an integer of 5,000 digits"],
)
def test_a_line_too_deep_or_too_long_a_number_is_junk_not_the_end_of_the_run(
    value: bytes,
) -> None:
    """msgspec raises RecursionError past about a thousand levels, and (as json does)
    ValueError for an integer of more digits than Python converts: not DecodeError. One such
    line, in any object (feedback/ is anyone's to write), must not end the job."""
    good = json.dumps(RECORDS[0]).encode()
    deep = b'{"message": "capture", "inputs": [[1, ' + value + b"]]}"
    body = b"\n".join([good, deep, good])
    for bodies in ([body], [gzip.compress(body)]):
        lines, stats = as_lines(bodies)
        assert (lines, stats) == as_records(bodies)
        assert len(lines) == 2 and stats.junk_lines == 1


@pytest.mark.parametrize(
    "bad",
    [
        b'{"message": "capture", "inputs": [[1]], "note": "\xff"}',
        b'{"n\xffte": 1, "inputs": [[1]]}',
    ],
    ids=["in a value", "in a key"],
)
def test_invalid_utf8_where_the_job_reads_nothing_is_junk_for_both_readers(bad: bytes) -> None:
    """msgspec skips the fields a CaptureLine has no place for without checking their UTF-8:
    the job's reader must still count such a line junk, as the records reader does."""
    good = json.dumps(RECORDS[0]).encode()
    body = b"\n".join([good, bad, good])
    lines, stats = as_lines([body])
    assert (lines, stats) == as_records([body])
    assert len(lines) == 2 and stats.junk_lines == 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=3), children, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_any_capture_inputs_build_frames_without_crashing(inputs: list) -> None:
    records = [capture("r", inputs, inputs), capture("s", [[1.0, "a", 2]], [1.0])]
    window = capture_frames(records, model="house", signatures={"3": NAMES})["3"]
    assert window.rows == len(window.keys)


def test_a_whole_object_read_at_once_gives_what_line_by_line_gives() -> None:
    """An object of plain lines is parsed in one go; one blank or broken line in it sends
    the whole object the careful way, which skips and counts only that line."""
    clean = lines(RECORDS)
    broken = lines(RECORDS[:1]) + b"\n  \n{not json\n" + lines(RECORDS[1:])
    stats = ReadStats()
    assert list(read_records([clean, gzip.compress(broken)], stats=stats)) == RECORDS * 2
    assert (stats.objects, stats.records, stats.junk_lines) == (2, 6, 1)


def test_the_record_limit_cuts_inside_an_object_read_at_once() -> None:
    stats = ReadStats()
    body = lines(RECORDS)
    got = list(read_records([body, body], limits=CaptureLimits(max_records=4), stats=stats))
    assert got == [*RECORDS, RECORDS[0]]
    assert stats.record_limit_reached and stats.records == 4
    exact = ReadStats()  # exactly the limit: nothing was left out
    assert len(list(read_records([body], limits=CaptureLimits(max_records=3), stats=exact))) == 3
    assert not exact.record_limit_reached
