"""Which candidate function smoke-tests the models of which endpoint.

Each endpoint of ``cdk.json`` has a candidate function built like it (architecture, memory,
/tmp, libraries, python-flavor allowance), so a model is smoke-tested where it will be
served. infra writes the map into SmokeTest's environment (``CANDIDATE_FUNCTIONS``) and the
step reads it back, both through this module: the one format, checked from both sides.
"""

from __future__ import annotations

from collections.abc import Mapping

from registry.exceptions import InvalidStateError


def encode(functions: Mapping[str, str]) -> str:
    """``endpoint=function`` pairs, comma-separated. Plain concatenation: infra passes
    CloudFormation tokens for the function names."""
    return ",".join(f"{endpoint}={function}" for endpoint, function in functions.items())


def decode(text: str) -> dict[str, str]:
    """The map :func:`encode` wrote."""
    pairs = [pair.partition("=") for pair in text.split(",") if pair]
    return {endpoint: function for endpoint, _, function in pairs}


def candidate_for(functions: Mapping[str, str], endpoint: str) -> str:
    """The candidate function of ``endpoint``; a deployment without one is a wiring error."""
    function = functions.get(endpoint)
    if function is None:
        raise InvalidStateError(
            f"no candidate function smoke-tests endpoint {endpoint!r} (candidates: "
            f"{', '.join(sorted(functions)) or 'none'}): the gate policy and the deployed "
            "serving stack disagree"
        )
    return function
