"""A version's lineage as a graph: the code, the datasets, the parent version and the
attestation it arrived with, each an arrow into the version.

The input is ``GET /v1/models/{name}/versions/{version}`` as the registry answers it. The
layout is computed here, so the same version always draws the same picture; the SVG is
followed by a list of the same nodes, its text equivalent. A dataset's URI is shown as text
and never followed: the links go to the console's own pages only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from model_runtime.manifest import MAX_DATASETS
from registry.names import NAME_PATTERN, SHA256_PATTERN, VERSION_PATTERN
from slipway.console.humanize import (
    mapping,
    number,
    sequence,
    text,
    timestamp,
    truncated,
)

# Geometry (SVG user units): inputs in a column on the left, the version on the right.
PAD = 12
NODE_W = 320
NODE_H = 64
GAP = 14
VERSION_X = 500
WIDTH = VERSION_X + NODE_W + PAD
LINE_1, LINE_2, LINE_3 = 20, 38, 55  # text baselines within a node
TEXT_X = 12
# Characters a node's line holds at the stylesheet's font sizes (the full text is its title).
TITLE_CHARS = 38
LINE_CHARS = 44
SHORT_DIGEST = 12
SHORT_COMMIT = 10
MAX_ROLES_SHOWN = 4
# A node's full text (its title, its link's name, its list entry) is bounded too.
MAX_FULL = 600


@dataclass(frozen=True)
class Node:
    """One box of the graph: its kind (a CSS class), three lines, a title, maybe a link."""

    kind: str
    lines: tuple[str, str, str]
    title: str
    href: str | None = None
    dataset: str | None = None

    @property
    def full(self) -> str:
        return truncated(self.title, MAX_FULL)[0]


def lineage_graph(version: dict[str, Any]) -> Markup:
    """The lineage SVG (``role="group"``, links focusable) and its list of the same nodes."""
    version = mapping(version)
    lineage = mapping(version.get("lineage"))
    name = text(version.get("name"))
    inputs = [
        *_code(lineage),
        *_parent(name, lineage),
        *_received(version),
    ]
    datasets, left_off = _datasets(lineage)
    inputs.extend(datasets)
    target = _version_node(version)
    return Markup("").join(
        [
            Markup('<figure class="lineage">'),
            _svg(target, inputs, name),
            Markup(
                "<figcaption>What built and vouched for this version; every arrow points "
                "to it. The same, as a list:</figcaption>"
            ),
            Markup("</figure>"),
            _listing(inputs, left_off),
        ]
    )


def _code(lineage: dict[str, Any]) -> list[Node]:
    code = mapping(lineage.get("code"))
    if not code:
        return []
    repository = text(code.get("repository")) or "unknown repository"
    commit = text(code.get("commit")) or "unknown commit"
    dirty = code.get("dirty") is True
    state = "dirty: uncommitted changes" if dirty else "clean"
    return [
        Node(
            kind="code-dirty" if dirty else "code",
            lines=(
                "Code" + (" ⚠ dirty" if dirty else ""),
                repository,
                f"@ {commit[:SHORT_COMMIT]} · {state}",
            ),
            title=f"Code: {repository} at commit {commit} ({state})",
        )
    ]


def _parent(name: str, lineage: dict[str, Any]) -> list[Node]:
    parent = text(lineage.get("parent"))
    if not parent:
        return []
    href = None
    if NAME_PATTERN.fullmatch(name) and VERSION_PATTERN.fullmatch(parent):
        href = f"/models/{quote(name, safe='')}/versions/{quote(parent, safe='')}"
    return [
        Node(
            kind="parent",
            lines=("Parent version", f"{name} {parent}", "trained from it"),
            title=f"Parent version: {name} {parent}",
            href=href,
        )
    ]


def _received(version: dict[str, Any]) -> list[Node]:
    received = mapping(version.get("received_attestation"))
    if not received:
        return []
    environment = text(received.get("environment")) or "an earlier environment"
    status = text(received.get("status")) or "unknown status"
    account = text(received.get("account"))
    chain = [text(mapping(e).get("environment")) for e in sequence(received.get("chain"))][:20]
    before = f"; before that: {', '.join(reversed(chain))}" if chain else ""
    issued, verified = received.get("issued_at"), received.get("verified_at")
    full = (
        f"Arrived from {environment}"
        + (f" (account {account})" if account else "")
        + f": {status} there, attested {timestamp(issued)}, verified {timestamp(verified)}"
        + f"; statement sha256 {text(received.get('statement_sha256'))}{before}"
    )
    return [
        Node(
            kind="attestation",
            lines=(
                f"Attested by {environment}",
                f"{status} there" + (f" · account {account}" if account else ""),
                f"verified {timestamp(verified)}",
            ),
            title=full,
        )
    ]


def _datasets(lineage: dict[str, Any]) -> tuple[list[Node], int]:
    """One node per dataset digest (a CSV used to train and to evaluate is one dataset, as
    the registry's edges have it), in manifest order; at most the manifest's own bound."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in sequence(lineage.get("datasets")):
        entry = mapping(entry)
        if entry:
            key = text(entry.get("sha256")) or f"#{len(grouped)}"  # a damaged entry: its own
            grouped.setdefault(key, []).append(entry)
    nodes = [_dataset(digest, uses) for digest, uses in list(grouped.items())[:MAX_DATASETS]]
    return nodes, max(len(grouped) - MAX_DATASETS, 0)


def _dataset(digest: str, uses: list[dict[str, Any]]) -> Node:
    roles = list(dict.fromkeys(text(u.get("role")) or "unknown role" for u in uses))
    role_text = ", ".join(roles[:MAX_ROLES_SHOWN]) + (" …" if len(roles) > MAX_ROLES_SHOWN else "")
    uris = list(dict.fromkeys(text(u.get("uri")) for u in uses if u.get("uri")))
    rows = number(uses[0].get("rows"))
    rows_text = f"{int(rows):,} rows" if rows is not None else "rows unknown"
    valid = bool(SHA256_PATTERN.fullmatch(digest))
    shown = digest[:SHORT_DIGEST] if valid else "not a sha256"
    full = (
        f"Dataset ({', '.join(roles)}): {' ; '.join(uris) or 'no URI'}; "
        f"sha256 {digest if valid else 'missing or damaged'}; {rows_text}"
    )
    return Node(
        kind="dataset",
        lines=(
            f"Dataset · {role_text}",
            uris[0] if uris else "no URI",
            f"sha256 {shown} · {rows_text}",
        ),
        title=full,
        href=f"/datasets/{digest}" if valid else None,
        dataset=digest if valid else None,
    )


def _version_node(version: dict[str, Any]) -> Node:
    name = text(version.get("name")) or "?"
    number_ = text(version.get("version")) or "?"
    status = text(version.get("status")) or "status unknown"
    return Node(
        kind="version",
        lines=("This version", f"{name} {number_}", status),
        title=f"This version: {name} {number_} ({status})",
    )


def _svg(target: Node, inputs: list[Node], name: str) -> Markup:
    column = max(len(inputs) * (NODE_H + GAP) - GAP, NODE_H)
    height = column + 2 * PAD
    target_y = PAD + (column - NODE_H) // 2
    kinds = sorted({n.kind.removesuffix("-dirty") for n in inputs})
    label = f"Lineage graph of {name or 'this version'}: " + (
        f"{len(inputs)} inputs ({', '.join(kinds)}) pointing to the version"
        if inputs
        else "no recorded inputs"
    )
    parts = [
        Markup(
            '<svg class="lineage-graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'role="group" aria-label="{label}">'
        ).format(w=WIDTH, h=height, label=label),
        Markup(
            '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
            '<path class="edge-head" d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>'
        ),
    ]
    end_x, end_y = VERSION_X, target_y + NODE_H // 2
    for index in range(len(inputs)):
        y = PAD + index * (NODE_H + GAP) + NODE_H // 2
        start_x = PAD + NODE_W
        middle = (start_x + end_x) // 2
        parts.append(
            Markup(
                '<path class="edge" d="M {} {} C {} {}, {} {}, {} {}" fill="none" stroke="#666" '
                'stroke-width="1.5" marker-end="url(#lineage-arrow)"/>'
            ).format(start_x, y, middle, y, middle, end_y, end_x - 2, end_y)
        )
    for index, node in enumerate(inputs):
        parts.append(_node(node, PAD, PAD + index * (NODE_H + GAP)))
    parts.append(_node(target, VERSION_X, target_y))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _node(node: Node, x: int, y: int) -> Markup:
    title, line_2, line_3 = node.lines
    body = Markup(
        '<g class="node node-{kind}" transform="translate({x} {y})"><title>{full}</title>'
        '<rect width="{w}" height="{h}" rx="8" fill="#fff" stroke="#555"/>'
        '<text class="node-title" x="{tx}" y="{l1}" fill="#111">{t1}</text>'
        '<text class="node-line" x="{tx}" y="{l2}" fill="#333">{t2}</text>'
        '<text class="node-line" x="{tx}" y="{l3}" fill="#333">{t3}</text></g>'
    ).format(
        kind=node.kind,
        x=x,
        y=y,
        full=node.full,
        w=NODE_W,
        h=NODE_H,
        tx=TEXT_X,
        l1=LINE_1,
        l2=LINE_2,
        l3=LINE_3,
        t1=truncated(title, TITLE_CHARS)[0],
        t2=truncated(line_2, LINE_CHARS)[0],
        t3=truncated(line_3, LINE_CHARS)[0],
    )
    if node.href is None:
        return body
    dataset = Markup(' data-dataset="{}"').format(node.dataset) if node.dataset else ""
    return Markup('<a class="node-link" href="{}"{} aria-label="{}">{}</a>').format(
        node.href, dataset, node.full, body
    )


def _listing(inputs: list[Node], left_off: int) -> Markup:
    """The graph's text equivalent: each input in words, with the same links."""
    if not inputs:
        return Markup(
            '<p class="lineage-list-empty">The version records no code, dataset or parent.</p>'
        )
    items = []
    for node in inputs:
        words = escape(node.full)
        if node.href is not None:
            words = Markup('<a href="{}">{}</a>').format(node.href, node.full)
        items.append(Markup('<li class="lineage-item lineage-{}">{}</li>').format(node.kind, words))
    if left_off:
        items.append(Markup("<li>{} more datasets not shown</li>").format(left_off))
    return Markup('<ul class="lineage-list" aria-label="Lineage, as a list">{}</ul>').format(
        Markup("").join(items)
    )
