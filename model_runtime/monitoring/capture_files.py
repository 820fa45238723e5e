"""Reading what the endpoints captured (``capture/``) and the labels clients sent
(``feedback/``): objects in, records and pandas frames out.

An object may come in any of the forms AWS's delivery gives (see the monitoring contract):
gzip (one or several members) or plain; one JSON message per line, or messages concatenated
with nothing between them; and raw CloudWatch Logs envelopes
(``{"messageType": "DATA_MESSAGE", "logEvents": [{"message": "..."}]}``), whose messages
are the records. Lines that are not JSON objects are skipped and counted, never fatal.

The objects come from the bucket, where anyone allowed to write ``feedback/`` (or a broken
producer) can put anything: decompression stops at ``max_object_bytes`` per object (a gzip
bomb costs that much and no more; what fit is still read), a line longer than
``max_line_bytes`` is skipped, and reading stops after ``max_records`` records. ``ReadStats``
counts each of these so the report can say what was left out.

Fast path (a million captured rows in a couple of seconds): orjson per line, the cyclic
garbage collector paused while millions of small objects are made (it would walk them all
again and again, for nothing: records hold no cycles), and one DataFrame built per version
from the rows' lists.

    stats = ReadStats()
    records = read_records(bodies, stats=stats)
    frames = capture_frames(records, model="house", signatures={"3": manifest.signature})
    window = frames["3"]; window.inputs; window.outputs; window.keys; window.excluded
"""

from __future__ import annotations

import gc
import itertools
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from model_runtime.monitoring.baseline import outputs_frame

GZIP_MAGIC = b"\x1f\x8b"
MAX_OBJECT_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_RECORDS = 10_000_000
MAX_ROWS = 5_000_000
CAPTURE, FEEDBACK = "capture", "feedback"
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class CaptureLimits:
    """How much one job reads (see the module's docstring)."""

    max_object_bytes: int = MAX_OBJECT_BYTES
    max_line_bytes: int = MAX_LINE_BYTES
    max_records: int = MAX_RECORDS
    max_rows: int = MAX_ROWS


@dataclass
class ReadStats:
    """What reading left out, for the report."""

    objects: int = 0
    records: int = 0
    junk_lines: int = 0
    long_lines: int = 0
    oversized_objects: int = 0
    corrupt_objects: int = 0
    record_limit_reached: bool = False
    row_limit_reached: bool = False

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Opened:
    """An object's bytes decompressed, and what decompressing it met: the step a reading
    thread can take (zlib lets go of the GIL) while the last object is parsed."""

    text: bytes
    oversized: bool = False
    corrupt: bool = False


def open_object(body: bytes, max_object_bytes: int = MAX_OBJECT_BYTES) -> Opened:
    """``body`` decompressed (at most ``max_object_bytes`` of it, see ``_decompressed``)."""
    found = ReadStats()
    text = _decompressed(body, max_object_bytes, found)
    return Opened(text, found.oversized_objects > 0, found.corrupt_objects > 0)


def read_records(
    bodies: Iterable[bytes | Opened],
    *,
    limits: CaptureLimits | None = None,
    stats: ReadStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Every JSON object record in ``bodies`` (the objects' bytes, or already opened),
    whatever their form."""
    for batch in record_batches(bodies, limits=limits, stats=stats):
        yield from batch


def record_batches(
    bodies: Iterable[bytes | Opened],
    *,
    limits: CaptureLimits | None = None,
    stats: ReadStats | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """``read_records``, an object's records at a time (a list each: a million records cost
    a million generator steps less)."""
    limits = limits or CaptureLimits()
    stats = stats if stats is not None else ReadStats()
    for body in bodies:
        stats.objects += 1
        opened = body if isinstance(body, Opened) else open_object(body, limits.max_object_bytes)
        stats.oversized_objects += opened.oversized
        stats.corrupt_objects += opened.corrupt
        room = limits.max_records - stats.records
        batch = _fast_batch(opened.text, limits.max_line_bytes)
        if batch is None:
            batch, full = _slow_batch(opened.text, limits.max_line_bytes, stats, room)
        else:
            full = len(batch) > room
            if full:
                del batch[room:]
        stats.records += len(batch)
        if batch:
            yield batch
        if full:
            stats.record_limit_reached = True
            return


def _fast_batch(text: bytes, max_line_bytes: int) -> list[dict[str, Any]] | None:
    """The records of an object of one plain JSON record a line (what Firehose writes from
    the endpoints' log lines: all but every object), parsed in one go; None for any other
    object (a line not JSON, too long or blank within, an envelope, a value not an object),
    which ``_slow_batch`` reads line by line."""
    lines = text.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the object's last line break
    if not lines or max(map(len, lines)) > max_line_bytes:
        return None
    try:
        messages = [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        return None
    if not all([type(m) is dict and "logEvents" not in m for m in messages]):
        return None
    return messages


def _slow_batch(
    text: bytes, max_line_bytes: int, stats: ReadStats, room: int
) -> tuple[list[dict[str, Any]], bool]:
    """An object's records line by line, whatever its form; at most ``room`` of them (and
    whether there were more)."""
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    batch: list[dict[str, Any]] = []
    for line in text.split(b"\n"):
        if len(line) > max_line_bytes:
            stats.long_lines += 1
            continue
        try:
            message = loads(line)
        except decode_error:
            if line.strip():
                for record in _slow_records(line, stats):
                    if len(batch) >= room:
                        return batch, True
                    batch.append(record)
            continue
        if type(message) is dict and "logEvents" not in message:
            if len(batch) >= room:
                return batch, True
            batch.append(message)
            continue
        for record in _unwrapped(message, stats):
            if len(batch) >= room:
                return batch, True
            batch.append(record)
    return batch, False


def _slow_records(line: bytes, stats: ReadStats) -> Iterator[dict[str, Any]]:
    for message in _messages(line, stats):
        yield from _unwrapped(message, stats)


def _decompressed(body: bytes, limit: int, stats: ReadStats) -> bytes:
    """A body's bytes, gunzipped member by member when it is gzip, at most ``limit`` of them.

    A member boundary between one JSON message's end and the next one's start (raw
    CloudWatch Logs deliveries: one gzip member per envelope) counts as a line break."""
    if not body.startswith(GZIP_MAGIC):
        if len(body) > limit:
            stats.oversized_objects += 1
            return _whole_lines(body[:limit])
        return body
    parts: list[bytes] = []
    total = 0
    data = body
    while data.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, limit - total + 1)
            while inflater.unconsumed_tail and len(chunk) <= limit - total:
                chunk += inflater.decompress(
                    inflater.unconsumed_tail, limit - total - len(chunk) + 1
                )
        except zlib.error:
            stats.corrupt_objects += 1
            break
        if total + len(chunk) > limit:
            stats.oversized_objects += 1
            parts.append(chunk[: limit - total])
            return _whole_lines(b"".join(parts))
        # (only the ends are looked at: stripping a whole member would copy it)
        if parts and parts[-1][-64:].rstrip().endswith(b"}") and chunk[:64].lstrip()[:1] == b"{":
            parts.append(b"\n")
        parts.append(chunk)
        total += len(chunk)
        if not inflater.eof:
            stats.corrupt_objects += 1  # cut short: keep what was read
            return _whole_lines(b"".join(parts))
        data = inflater.unused_data.lstrip(b"\x00")  # some writers pad between members
    return b"".join(parts)


def _whole_lines(text: bytes) -> bytes:
    """``text`` up to its last line break: the line cut by a limit is not read."""
    end = text.rfind(b"\n")
    return text[: end + 1] if end >= 0 else b""


def _messages(line: bytes, stats: ReadStats) -> Iterator[Any]:
    try:
        yield orjson.loads(line)
        return
    except orjson.JSONDecodeError:
        pass
    # messages concatenated without a line break, or a value orjson refuses (NaN)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        stats.junk_lines += 1
        return
    decoder = json.JSONDecoder()
    position, end = 0, len(text)
    while position < end:
        while position < end and text[position] in " \t\r":
            position += 1
        if position >= end:
            return
        try:
            value, position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            stats.junk_lines += 1
            return
        yield value


def _unwrapped(message: Any, stats: ReadStats) -> Iterator[dict[str, Any]]:
    """A record, or the records a CloudWatch Logs envelope carries."""
    if not isinstance(message, dict):
        stats.junk_lines += 1
        return
    if "logEvents" in message and "messageType" in message:
        if message.get("messageType") != "DATA_MESSAGE":
            return  # CONTROL_MESSAGE: CloudWatch Logs checking that the destination answers
        events = message.get("logEvents")
        for event in events if isinstance(events, list) else ():
            text = event.get("message") if isinstance(event, dict) else None
            if not isinstance(text, str):
                stats.junk_lines += 1
                continue
            for inner in _messages(text.encode(), stats):
                if isinstance(inner, dict):
                    yield inner
                else:
                    stats.junk_lines += 1
        return
    yield message


# ---------------------------------------------------------------------------- frames


@dataclass
class CapturedFrames:
    """One model version's captured rows: ``inputs`` (one column per input named by the
    signature), ``outputs`` (named as the baseline names outputs), ``keys`` (request_id,
    row, time_ms per row, to join feedback; built when first asked for), and the columns
    the capture left out."""

    inputs: Any
    outputs: Any
    key_columns: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    excluded: set[str] = field(default_factory=set)
    requests: int = 0
    truncated_requests: int = 0
    requested_rows: int = 0  # rows the requests had, captured or not

    @property
    def rows(self) -> int:
        return len(self.inputs)

    @cached_property
    def keys(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.key_columns, columns=["request_id", "row", "time_ms"])


@dataclass
class _Collected:
    input_names: list[str]
    output_names: list[str]
    list_rows: list[Any] = field(default_factory=list)
    dict_rows: list[Any] = field(default_factory=list)
    dict_positions: list[int] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    request_ids: list[Any] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    times: list[Any] = field(default_factory=list)
    excluded: set[str] = field(default_factory=set)
    requests: int = 0
    truncated: int = 0
    requested_rows: int = 0

    def add_batch(self, records: list[dict[str, Any]]) -> None:
        """Capture records whose ``inputs`` are lists; a batch of one-row requests sent as
        lists (the common case) is taken column by column, the rest record by record."""
        if not records:
            return
        inputs = [r["inputs"] for r in records]
        if not all([len(i) == 1 and type(i[0]) is list for i in inputs]):
            for record, rows in zip(records, inputs, strict=True):
                self.add(record, rows)
            return
        self.requests += len(records)
        self.list_rows.extend([i[0] for i in inputs])
        outputs = [r.get("outputs") for r in records]
        self.outputs.extend([o[0] if type(o) is list and o else None for o in outputs])
        self.request_ids.extend([r.get("request_id") for r in records])
        self.row_numbers.extend([0] * len(records))
        self.times.extend([r.get("time_ms") for r in records])
        counts = [r.get("rows") for r in records]
        self.requested_rows += sum([n if type(n) is int else 1 for n in counts])
        self.truncated += sum([r.get("truncated") is True for r in records])
        for excluded in [r.get("excluded") for r in records]:
            if excluded and type(excluded) is list:
                self.excluded.update(name for name in excluded if isinstance(name, str))

    def add(self, record: dict[str, Any], inputs: list[Any]) -> None:
        """One capture record's rows (a single list row, the common case, first)."""
        self.requests += 1
        outputs = record.get("outputs")
        if type(outputs) is not list:
            outputs = []
        excluded = record.get("excluded")
        if excluded:
            self.excluded.update(name for name in excluded if isinstance(name, str))
        if record.get("truncated") is True:
            self.truncated += 1
        rows = record.get("rows")
        self.requested_rows += rows if type(rows) is int else len(inputs)
        request_id, time_ms = record.get("request_id"), record.get("time_ms")
        if len(inputs) == 1 and type(inputs[0]) is list:
            self.list_rows.append(inputs[0])
            self.outputs.append(outputs[0] if outputs else None)
            self.request_ids.append(request_id)
            self.row_numbers.append(0)
            self.times.append(time_ms)
            return
        for number, row in enumerate(inputs):
            if type(row) is list:
                self.list_rows.append(row)
            elif type(row) is dict:
                self.dict_positions.append(len(self.list_rows) + len(self.dict_rows))
                self.dict_rows.append(row)
            else:
                continue
            self.outputs.append(outputs[number] if number < len(outputs) else None)
            self.request_ids.append(request_id)
            self.row_numbers.append(number)
            self.times.append(time_ms)


def _names(signature: Any) -> tuple[list[str], list[str]]:
    if hasattr(signature, "inputs") and hasattr(signature, "outputs"):
        return (
            [column.name for column in signature.inputs],
            [column.name for column in signature.outputs],
        )
    inputs, outputs = signature
    return list(inputs), list(outputs)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a window's records are read: millions of small
    dicts and lists, none in a cycle, which it would otherwise walk again and again (half of
    a million-row run's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def capture_frames(
    records: Iterable[dict[str, Any]],
    *,
    model: str,
    signatures: Mapping[str, Any],
    limits: CaptureLimits | None = None,
    stats: ReadStats | None = None,
) -> dict[str, CapturedFrames]:
    """The capture records of ``model``, one ``CapturedFrames`` per version named in
    ``signatures`` (version -> the manifest's ``Signature``, or (input names, output
    names)); records of other models or versions, and feedback records, are passed over.
    At most ``max_rows`` rows are kept in all."""
    limits = limits or CaptureLimits()
    stats = stats if stats is not None else ReadStats()
    collected = {str(version): _Collected(*_names(sig)) for version, sig in signatures.items()}
    kept = 0
    with collector_paused():
        for batch in _batches(records, BATCH):
            captures = [r for r in batch if r.get("message") == CAPTURE and r.get("model") == model]
            for version, into in collected.items():
                mine = [r for r in captures if str(r.get("version")) == version]
                usable = [r for r in mine if type(r.get("inputs")) is list]
                stats.junk_lines += len(mine) - len(usable)
                rows = sum([len(r["inputs"]) for r in usable])
                if kept + rows > limits.max_rows:
                    stats.row_limit_reached = True
                    usable = _within(usable, limits.max_rows - kept)
                    rows = sum([len(r["inputs"]) for r in usable])
                kept += rows
                into.add_batch(usable)
            if stats.row_limit_reached:
                break
        # still paused: building frames from millions of lists would set it off again and again
        frames = {version: _frames(into) for version, into in collected.items()}
        collected.clear()
    return frames


# Records are taken a few hundred at a time: their memory is freed and reused by the next
# few hundred at once, where batches of tens of thousands freed whole arenas back to the
# system and paid page faults to get them again (2.7 s a million rows, measured).
BATCH = 512


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _within(records: list[dict[str, Any]], room: int) -> list[dict[str, Any]]:
    """The first records whose rows fit in ``room``."""
    kept = []
    for record in records:
        room -= len(record["inputs"])
        if room < 0:
            break
        kept.append(record)
    return kept


def _frames(into: _Collected) -> CapturedFrames:
    import pandas as pd

    names = into.input_names
    inputs = _list_frame(into.list_rows, names)
    if into.dict_rows:
        by_name = pd.DataFrame(into.dict_rows, index=range(len(into.dict_rows)))
        by_name.columns = [str(column) for column in by_name.columns]
        by_name = by_name.loc[:, ~by_name.columns.duplicated()]
        if not into.list_rows:
            inputs = by_name
        else:  # both forms in one window: rows back in the order they came
            order = _arrival_order(len(into.list_rows), into.dict_positions)
            inputs = pd.concat([inputs, by_name], ignore_index=True).iloc[order]
            inputs = inputs.reset_index(drop=True)
    inputs = inputs.drop(columns=[n for n in into.excluded if n in inputs.columns])
    inputs = _scalars_only(inputs)
    # outputs and keys were collected in arrival order already
    outputs = outputs_frame(into.outputs, into.output_names)
    keys = {"request_id": into.request_ids, "row": into.row_numbers, "time_ms": into.times}
    return CapturedFrames(
        inputs=inputs,
        outputs=_scalars_only(outputs),
        key_columns=keys,
        excluded=set(into.excluded),
        requests=into.requests,
        truncated_requests=into.truncated,
        requested_rows=into.requested_rows,
    )


def _list_frame(rows: list[Any], names: Sequence[str]) -> Any:
    """Rows sent as lists, in signature order: a row shorter than the signature is padded
    with missing values, a longer one cut (the endpoint refused both; a record is data)."""
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=list(names))
    width = len(names)
    if any([len(row) != width for row in rows]):
        rows = [[*row[:width], *[None] * (width - len(row))] for row in rows]
    return pd.DataFrame(rows, columns=list(names))


def _arrival_order(list_count: int, dict_positions: list[int]) -> list[int]:
    """For concat([list rows, dict rows]): the index of each row in arrival order."""
    total = list_count + len(dict_positions)
    order = [0] * total
    dict_set = dict(zip(dict_positions, range(len(dict_positions)), strict=True))
    next_list = 0
    for position in range(total):
        if position in dict_set:
            order[position] = list_count + dict_set[position]
        else:
            order[position] = next_list
            next_list += 1
    return order


def _scalars_only(frame: Any) -> Any:
    """Cells holding arrays or objects (a client's mistake the record kept) become missing,
    so the statistics see numbers and texts only. Only mixed columns are looked at."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in ("mixed", "mixed-integer"):
            frame[name] = column.map(lambda v: v if isinstance(v, _SCALARS) else None)
    return frame


# ---------------------------------------------------------------------------- feedback


def feedback_labels(records: Iterable[dict[str, Any]], *, model: str) -> Any:
    """The labels sent for ``model``: a DataFrame of request_id, row, label (one line per
    request id and row, the latest sent wins), from ``/feedback`` records (``labels``
    lists) and bulk lines (``{"model", "request_id", "row", "label"}``)."""
    import pandas as pd

    ids: list[str] = []
    rows: list[int] = []
    labels: list[Any] = []
    with collector_paused():
        for record in records:
            if record.get("model") != model:
                continue
            if record.get("message") == FEEDBACK:
                items = record.get("labels")
                items = items if isinstance(items, list) else []
            elif "request_id" in record and "label" in record:
                items = [record]
            else:
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                request_id, row = item.get("request_id"), item.get("row", 0)
                label = item.get("label")
                if not isinstance(request_id, str) or not isinstance(label, _SCALARS):
                    continue
                if isinstance(row, bool) or not isinstance(row, int) or row < 0:
                    continue
                ids.append(request_id)
                rows.append(row)
                labels.append(label)
    frame = pd.DataFrame({"request_id": ids, "row": rows, "label": labels})
    return frame.drop_duplicates(["request_id", "row"], keep="last").reset_index(drop=True)
