"""Which ``functools.partial`` objects in a skops file are safe to load.

A partial of an arbitrary callable is code the file chooses to run later, so skops does
not trust ``functools.partial`` and neither does Slipway in general. scikit-learn itself
stores one kind: HistGradientBoosting* with native categorical support keeps
``partial(check_array, **kwargs)`` as the numerical columns' preprocessor. Calling
``check_array`` only validates an array, and its keyword values are nodes of the file that
the allow-list checks like any other. So a file's partials are trusted when every one of
them wraps a function named here, with keyword arguments only.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PARTIAL_TYPE = "functools.partial"
SAFE_PARTIAL_FUNCTIONS: frozenset[str] = frozenset({"sklearn.utils.validation.check_array"})


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _resolved(node: dict[str, Any], by_id: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    if node.get("__loader__") == "CachedNode":
        return by_id.get(node.get("__id__"), {})
    return node


def unsafe_partials(model_path: Path) -> list[str]:
    """Why each partial in the file is not one of scikit-learn's own (none: all are)."""
    try:
        with zipfile.ZipFile(model_path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        return [f"the file's schema cannot be read ({exc})"]
    nodes = list(_nodes(schema))
    # a node met again is stored as a reference to its first occurrence, by id
    by_id = {
        node["__id__"]: node
        for node in nodes
        if "__id__" in node and node.get("__loader__") != "CachedNode"
    }
    problems = []
    for node in nodes:
        if (node.get("__module__"), node.get("__class__")) != ("functools", "partial"):
            continue
        if node.get("__loader__") != "PartialNode":
            problems.append(f"a partial loaded as {node.get('__loader__')!r}")
            continue
        content = node.get("content") or {}
        func, args, namespace = (
            _resolved(content.get(part) or {}, by_id) for part in ("func", "args", "namespace")
        )
        name = f"{func.get('__module__')}.{func.get('__class__')}"
        if func.get("__loader__") != "FunctionNode" or name not in SAFE_PARTIAL_FUNCTIONS:
            problems.append(f"a partial of {name}")
        elif args.get("__loader__") != "TupleNode" or args.get("content") != []:
            problems.append(f"a partial of {name} with positional arguments")
        elif namespace.get("__loader__") != "JsonNode" or namespace.get("content") != "null":
            problems.append(f"a partial of {name} with attributes of its own")
    return problems
