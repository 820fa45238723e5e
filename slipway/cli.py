"""The ``slipway`` command line: package, push, watch, invoke and trace models."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.tree import Tree
from typer.core import TyperGroup

from registry.statuses import Stage
from slipway.dead_letters import QUEUES as DEAD_LETTER_QUEUES
from slipway.errors import CliError

# set in the context's meta (shared by every nested context) by any command's --json
JSON_ERRORS = "slipway.json_errors"


class _Commands(TyperGroup):
    """The root command group: a failure of a command asked for --json is printed as JSON."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            exc.as_json = bool(ctx.meta.get(JSON_ERRORS))
            raise


def _json_errors(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[JSON_ERRORS] = True
    return value


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    # plain click errors: one line "Error: ...", the same in scripts, terminals and tests
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Slipway: ship a model by uploading it; watch it get promoted; call it.",
)
local_app = typer.Typer(
    no_args_is_help=True, help="The embedded cloud on this machine.", rich_markup_mode=None
)
app.add_typer(local_app, name="local")
dlq_app = typer.Typer(
    no_args_is_help=True,
    help="The dead-letter queues: events that failed five times.",
    rich_markup_mode=None,
)
app.add_typer(dlq_app, name="dlq")


class _MonitorCommands(TyperGroup):
    """`slipway monitor NAME` shows reports; `slipway monitor run NAME` runs the job: a
    first word that is no subcommand is the model's name, for `show`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


monitor_app = typer.Typer(
    cls=_MonitorCommands,
    no_args_is_help=True,
    help="Drift and live quality of served models: the monitor job's reports.",
    rich_markup_mode=None,
)
app.add_typer(monitor_app, name="monitor")
console = Console()
err_console = Console(stderr=True)

EnvOption = Annotated[str, typer.Option("--env", "-e", help="environment from cdk.json")]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help='print machine-readable JSON (a failure too: {"error": ...}, exit 1)',
        callback=_json_errors,
    ),
]
# typer offers an Enum's values as the choices of an argument
DeadLetterQueueName = StrEnum(  # type: ignore[misc]
    "DeadLetterQueueName",
    {queue.name.replace("-", "_"): queue.name for queue in DEAD_LETTER_QUEUES},
)


def _emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


# -- local ------------------------------------------------------------------------------


EmbeddedEnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        "-e",
        metavar="NAME",
        help="an environment marked embedded in cdk.json; repeat for several side by side "
        "(default: local)",
    ),
]


@local_app.command("up")
def local_up(
    port: Annotated[int, typer.Option(help="port of the embedded AWS endpoint")] = 4750,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="start empty: forget what the last down kept")
    ] = False,
    env: EmbeddedEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start the embedded cloud and deploy the embedded environments named (default: local)
    into it with the CDK CLI, side by side, each after the one it accepts models from (whose
    deployed public key it is given where cdk.json says "embedded"); each one's models,
    versions and artifacts that the last `local down` kept are put back when it is deployed
    afresh, unless --fresh."""
    from slipway.local import snapshot
    from slipway.local.control import deploy, start_daemon
    from slipway.local.environments import chain_context, check_embeddable, in_chain_order
    from slipway.local.state import LocalState, state_dir
    from slipway.target import Target, read_environments, resolve_target

    # each after the environment it accepts models from: its deploy takes that one's key
    configs = in_chain_order(
        [_embedded_config(name, read_environments()) for name in dict.fromkeys(env or ["local"])]
    )
    for config in configs:
        check_embeddable(config)  # before anything starts
    with console.status("starting the embedded cloud…"):
        state = start_daemon(port)
    asked = {config.name for config in configs}
    for config in configs:  # an earlier environment not asked for must be there already
        if config.accepts_from is not None and config.accepts_from.environment not in asked:
            chain_context(config, state)
    restored: dict[str, dict[str, int]] = {}
    for config in configs:
        try:  # deployed already (into this running cloud): its registry is there
            new = not Target(config, local_state=state).outputs
        except CliError:
            new = True
        context = chain_context(config, state)
        with console.status(
            f"deploying env={config.name} into {state.endpoint_url} with cdk deploy…"
        ):
            deploy(state, config.name, context=context)
        if fresh:
            snapshot.discard(state_dir(), config.name)
        elif new and snapshot.exists(state_dir(), config.name):
            with console.status(f"putting back what the last `local down` kept of {config.name}…"):
                restored[config.name] = snapshot.restore(resolve_target(config.name), state_dir())
    # the daemon wrote the routes it opened meanwhile
    _print_local_status(LocalState.load(state_dir()) or state, as_json, restored)


def _embedded_config(name: str, environments: dict[str, Any]) -> Any:
    from infra.config import ConfigError, load_environment

    try:
        return load_environment(environments, name)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


@local_app.command("down")
def local_down() -> None:
    """Stop the embedded cloud; the registry and artifacts of each environment in it are
    kept for its next `local up` (promotions in flight are not)."""
    from slipway.local import snapshot
    from slipway.local.control import stop_daemon
    from slipway.local.state import LocalState, state_dir
    from slipway.target import resolve_target

    state = LocalState.load(state_dir())
    try:
        if state is not None and state.is_alive():
            # each environment on its own: one that cannot be kept (half deployed, its
            # cdk.json entry gone) is named, and never stops the others being kept
            for deployed in _deployed_environments(state):
                try:
                    with console.status(
                        f"keeping the registry and the artifacts of {deployed.name}…"
                    ):
                        kept = snapshot.save(resolve_target(deployed.name), state_dir())
                except Exception as error:  # reported, and the others are kept all the same
                    err_console.print(
                        f"[yellow]{deployed.name}: not kept ({error}); its registry and "
                        "artifacts go with the embedded cloud[/]"
                    )
                    continue
                console.print(
                    f"{deployed.name}: kept {kept['items']} registry items and "
                    f"{kept['objects']} objects"
                )
    finally:
        # whatever could or could not be kept, down stops the cloud
        console.print("stopped" if stop_daemon() else "the embedded cloud was not running")


@local_app.command("status")
def local_status(as_json: JsonOption = False) -> None:
    """Where the embedded cloud is, and each environment deployed in it: its endpoints, its
    registry and its stacks' outputs."""
    from slipway.local.state import LocalState

    state = LocalState.load()
    if state is None or not state.is_alive():
        raise CliError("the embedded cloud is not running; start it with `slipway local up`")
    _print_local_status(state, as_json)


def _deployed_environments(state: Any) -> list[Any]:
    """The embedded environments of cdk.json whose stacks the running cloud holds."""
    import boto3

    from slipway.local.cloud import REGION
    from slipway.local.environments import deployed_environments, embedded_environments
    from slipway.target import read_environments

    cloudformation = boto3.Session(
        aws_access_key_id=state.access_key_id,
        aws_secret_access_key=state.secret_access_key,
        region_name=REGION,
    ).client("cloudformation", endpoint_url=state.endpoint_url)
    return deployed_environments(cloudformation, embedded_environments(read_environments()))


@local_app.command("env")
def local_env() -> None:
    """Print the embedded cloud's per-start key as shell exports: after
    `eval "$(slipway local env)"`, `curl --aws-sigv4 aws:amz:us-east-1:lambda --user
    "$SLIPWAY_LOCAL_ACCESS_KEY_ID:$SLIPWAY_LOCAL_SECRET_ACCESS_KEY"` reaches its endpoints."""
    from slipway.local.cloud import REGION
    from slipway.local.state import LocalState

    state = LocalState.load()
    if state is None or not state.is_alive():
        raise CliError("the embedded cloud is not running; start it with `slipway local up`")
    # names of their own: exported as AWS_*, they would shadow the shell's real profile
    exports = {
        "SLIPWAY_LOCAL_ACCESS_KEY_ID": state.access_key_id,
        "SLIPWAY_LOCAL_SECRET_ACCESS_KEY": state.secret_access_key,
        "SLIPWAY_LOCAL_ENDPOINT_URL": state.endpoint_url,
        "SLIPWAY_LOCAL_REGION": REGION,
    }
    for key, value in exports.items():
        typer.echo(f"export {key}={value}")


@local_app.command("logs")
def local_logs(
    function: Annotated[
        str,
        typer.Argument(
            help="part of the function's name, e.g. endpoint, validate, ingest, registry"
        ),
    ],
    lines: Annotated[int, typer.Option(help="how many log lines, newest last")] = 50,
    env: Annotated[
        str, typer.Option("--env", "-e", help="the embedded environment whose function")
    ] = "local",
    as_json: JsonOption = False,
) -> None:
    """What a function of an embedded environment printed (its CloudWatch log stream)."""
    from slipway.local.environments import environment_functions
    from slipway.target import resolve_target

    target = resolve_target(env)
    names = [  # the environment's own: another one's endpoint matches 'endpoint' too
        name
        for name in environment_functions(target.client("cloudformation"), target.config)
        if function.lower() in name.lower()
    ]
    if len(names) != 1:
        raise CliError(
            f"{len(names)} functions of {env} match {function!r}"
            + (
                f": {', '.join(sorted(names))}; be more specific"
                if names
                else "; try endpoint, validate, evaluate, smoketest, ingest or registry"
            )
        )
    # a function logs where its LoggingConfig says (Slipway gives each one a group of its own)
    configuration = target.client("lambda").get_function_configuration(FunctionName=names[0])
    group = configuration.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{names[0]}")
    events = _newest_log_events(target.client("logs"), group, lines)
    if as_json:
        _emit_json({"function": names[0], "events": events})
        return
    console.print(f"[bold]{names[0]}[/] ({len(events)} lines)")
    for event in events:
        typer.echo(event["message"])


def _newest_log_events(logs: Any, group: str, lines: int) -> list[dict[str, Any]]:
    """The newest ``lines`` events of a log group, oldest first, across its streams (one per
    execution environment), newest streams first."""
    events: list[dict[str, Any]] = []
    for stream in _streams_newest_first(logs, group):
        events += logs.get_log_events(
            logGroupName=group, logStreamName=stream, limit=lines, startFromHead=False
        )["events"]
        if len(events) >= lines:
            break
    return sorted(events, key=lambda e: e["timestamp"])[-lines:]


def _streams_newest_first(logs: Any, group: str) -> Iterator[str]:
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )
    try:
        for page in pages:
            yield from (stream["logStreamName"] for stream in page["logStreams"])
    except logs.exceptions.ResourceNotFoundException:
        return


def _print_local_status(
    state: Any, as_json: bool, restored: dict[str, dict[str, int]] | None = None
) -> None:
    restored = restored or {}
    deployed = _deployed_environments(state)
    environments = {
        e.name: {
            "endpoints": e.endpoints(state.routes),
            "registry": e.registry(state.routes),
            "outputs": e.outputs,
            **({"restored": restored[e.name]} if e.name in restored else {}),
        }
        for e in deployed
    }
    if as_json:
        _emit_json(
            {"endpoint_url": state.endpoint_url, "pid": state.pid, "environments": environments}
        )
        return
    console.print(f"embedded cloud: [bold]{state.endpoint_url}[/] (pid {state.pid})")
    if not environments:
        console.print("no environment deployed: `slipway local up --env NAME`")
    for name, environment in environments.items():
        console.print(f"\n[bold]{name}[/] (--env {name})")
        if "restored" in environment:
            kept = environment["restored"]
            console.print(
                f"  put back what the last `local down` kept: {kept['items']} registry items, "
                f"{kept['objects']} objects (start empty with --fresh)"
            )
        for endpoint, url in environment["endpoints"].items():
            console.print(f"  endpoint {endpoint}: [bold green]{url}[/]")
        console.print(f"  registry: {environment['registry']}")
        for key in ("ArtifactBucketName", "LineageTableName", "StateMachineArn"):
            if key in environment["outputs"]:
                console.print(f"  {key}: {environment['outputs'][key]}")


# -- packaging and pushing ----------------------------------------------------------------


def _model_name(value: str | None) -> str | None:
    from registry.names import NAME_PATTERN

    if value is not None and not NAME_PATTERN.fullmatch(value):
        raise typer.BadParameter(f"{value!r}: use lowercase letters, digits and dashes (1-64)")
    return value


def _model_version(value: str | None) -> str | None:
    from registry.names import VERSION_PATTERN

    if value is not None and not VERSION_PATTERN.fullmatch(value):
        raise typer.BadParameter(f"{value!r}: use letters, digits, '.', '_' and '-' (1-64)")
    return value


# Names and versions become URL paths: checked before any request is built, so a name with
# '/' or '?' is a usage error, not a call to another route.
NameArgument = Annotated[str, typer.Argument(help="model name", callback=_model_name)]
VersionArgument = Annotated[str, typer.Argument(help="version", callback=_model_version)]
LiveVersionArgument = Annotated[
    str | None,
    typer.Argument(help="default: the live version", callback=_model_version),
]


def _metric(value: str | None) -> str | None:
    from registry.exam import METRICS

    if value is not None and value not in METRICS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(METRICS)}")
    return value


def _column_types(values: list[str]) -> dict[str, str]:
    from model_runtime.manifest import COLUMN_TYPES

    types = {}
    for value in values:
        name, _, kind = value.partition("=")
        if not name or kind not in COLUMN_TYPES:
            raise typer.BadParameter(
                f"{value!r}: use NAME=TYPE, TYPE one of {', '.join(COLUMN_TYPES)}"
            )
        types[name] = kind
    return types


def _dataset_source(value: str | None) -> str | None:
    """A dataset option: an s3:// object URI, or a CSV file that exists."""
    from model_runtime.s3_datasets import is_s3_uri
    from registry.lineage_audit import s3_version_of

    if value is None:
        return value
    if is_s3_uri(value):
        if s3_version_of(value) is None:
            raise typer.BadParameter(
                f"{value!r}: use s3://bucket/key, optionally ?versionId=<id> (nothing else)"
            )
        return value
    if not Path(value).is_file():
        raise typer.BadParameter(f"file {value!r} does not exist (nor is it an s3:// URI)")
    return value


@app.command()
def package(
    model: Annotated[
        Path,
        typer.Argument(
            help="a skops file (scikit-learn), an .onnx file, an XGBoost .ubj/.json file, a "
            "LightGBM model file (--flavor lightgbm), or a folder with predictor.py",
            exists=True,
        ),
    ],
    name: Annotated[
        str,
        typer.Option(help="model name: lowercase letters, digits, dashes", callback=_model_name),
    ],
    version: Annotated[
        str, typer.Option(help="version, unique per model", callback=_model_version)
    ],
    train: Annotated[
        str,
        typer.Option(
            help="training data CSV: a file, or s3://bucket/key[?versionId=] (read once; "
            "the object version and ETag are recorded); its columns type the signature, "
            "its sha256 is recorded",
            metavar="FILE|S3_URI",
            callback=_dataset_source,
        ),
    ],
    target_column: Annotated[str, typer.Option("--target", help="label column of the CSVs")],
    evaluation: Annotated[
        str | None,
        typer.Option(
            help="labelled CSV the promotion gate scores (shipped inside): a file or an "
            "s3:// URI, like --train",
            metavar="FILE|S3_URI",
            callback=_dataset_source,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="evaluation metric, e.g. accuracy, rmse (default: accuracy for labels, rmse "
            "for numbers)",
            callback=_metric,
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="the metric's threshold (required with --evaluation: the gate refuses a "
            "bundle below it)"
        ),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="a column's type where the data cannot tell: NAME=TYPE (repeatable)"),
    ] = None,
    flavor: Annotated[
        str | None, typer.Option(help="the model's flavor, where its file cannot tell")
    ] = None,
    out: Annotated[Path, typer.Option(help="bundle to write")] = Path("bundle.tar.gz"),
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            metavar="NAME",
            help="read s3:// datasets with this cdk.json environment's AWS session (an "
            "embedded one's: the embedded cloud); default: your AWS credentials",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Build a bundle: typed signature from the data, code commit, dataset hashes (S3
    datasets by object version and ETag), the evaluation data for the gate, library
    versions (the same code as package_model())."""
    from model_runtime.columns import ColumnTypeError
    from model_runtime.packager import package_model
    from model_runtime.s3_datasets import is_s3_uri

    if evaluation is not None and threshold is None:
        # no default: 0.0 would let any model through a maximised metric's gate
        raise typer.BadParameter(
            "give the metric's threshold with --evaluation: the gate refuses a bundle below it",
            param_hint="'--threshold'",
        )
    types = _column_types(column or [])
    s3_client = None
    if env is not None and (is_s3_uri(train) or is_s3_uri(evaluation)):
        from slipway.target import resolve_target

        s3_client = resolve_target(env).client("s3")
    try:
        manifest = package_model(
            model,
            name=name,
            version=version,
            train=train if is_s3_uri(train) else Path(train),
            evaluation=evaluation
            if evaluation is None or is_s3_uri(evaluation)
            else Path(evaluation),
            s3_client=s3_client,
            target=target_column,
            metric=metric,
            threshold=threshold,
            columns=types,
            flavor=flavor,
            out=out,
            code_path=Path.cwd(),
        )
    except (ColumnTypeError, ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    _print_manifest_summary(manifest, out, as_json)


def _print_manifest_summary(manifest: Any, out: Path, as_json: bool) -> None:
    if as_json:
        _emit_json({"bundle": str(out), "manifest": json.loads(manifest.model_dump_json())})
        return
    code = manifest.lineage.code
    console.print(f"wrote [bold]{out}[/]: {manifest.name} {manifest.version}")
    console.print(
        f"  code {code.repository} @ {code.commit[:12]}"
        + (" [yellow](dirty working tree)[/]" if code.dirty else "")
    )
    for dataset in manifest.lineage.datasets:
        console.print(
            f"  {dataset.role} data {dataset.uri} sha256 {dataset.sha256[:16]}… "
            f"({dataset.rows} rows)" + (f" ETag {dataset.etag}" if dataset.etag else "")
        )
    built_with = ", ".join(f"{k} {v}" for k, v in manifest.runtime.items())
    console.print(f"  flavor {manifest.flavor}, built with {built_with}")
    if manifest.evaluation is not None:
        spec = manifest.evaluation
        console.print(f"  gate: {spec.metric} on {spec.dataset}, threshold {spec.threshold}")


@app.command()
def push(
    bundle: Annotated[Path, typer.Argument(help="bundle .tar.gz built by `slipway package`")],
    env: EnvOption = "local",
    as_json: JsonOption = False,
) -> None:
    """Verify a bundle locally, declare it under your identity, then upload it; the upload
    starts its promotion."""
    import tempfile

    from model_runtime.bundle import open_bundle
    from model_runtime.exceptions import SlipwayRuntimeError
    from registry.executions import UploadEvent, execution_name
    from registry.names import upload_key
    from slipway.bundle_upload import upload_bundle
    from slipway.invoke import call_registry
    from slipway.target import resolve_target

    if not bundle.is_file():
        raise CliError(f"{bundle} does not exist")
    with tempfile.TemporaryDirectory() as work:
        try:
            opened = open_bundle(bundle, Path(work) / "bundle")
        except SlipwayRuntimeError as exc:
            raise CliError(f"{bundle} is not a valid bundle: {exc}") from None
    manifest = opened.manifest
    target = resolve_target(env)
    # who uploads these bytes: S3's event names only the account (registry/uploads.py)
    declared = call_registry(
        target,
        "PUT",
        f"/v1/models/{manifest.name}/versions/{manifest.version}/upload",
        {"sha256": opened.digest},
    )
    key = upload_key(manifest.name, manifest.version)
    bucket = target.outputs["ArtifactBucketName"]
    version_id = upload_bundle(target.client("s3"), bundle, bucket, key, err_console, quiet=as_json)
    execution = execution_name(UploadEvent(bucket, key, version_id, bundle.stat().st_size))
    result = {
        "bucket": bucket,
        "key": key,
        "s3_version_id": version_id,
        "execution": execution,
        "declared_by": declared["declared_by"],
    }
    if as_json:
        _emit_json(result)
        return
    console.print(f"declared by {declared['declared_by']}")
    console.print(f"uploaded s3://{bucket}/{key} (object version {version_id})")
    console.print(f"promotion: {execution}")
    console.print(
        f"follow it: slipway status {manifest.name} {manifest.version} --env {env} --watch"
    )


@app.command()
def promote(
    name: NameArgument,
    version: VersionArgument,
    source: Annotated[
        str, typer.Option("--from", help="the environment the version is live or approved in")
    ],
    to: Annotated[str, typer.Option("--to", help="the next environment (its accepts_from)")],
    watch: Annotated[
        bool, typer.Option("--watch", help="follow the next environment's gate until it ends")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="seconds to watch at most (default: until it ends)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Carry a version to the next environment: its exact bytes (by S3 version id, checked
    against the registered digest and the attestation's) and a statement the earlier
    environment signs now of what happened to it there; the next environment's gate
    verifies it. Safe to run again: bytes already there are not uploaded twice."""
    from slipway.promote_across import UPLOADED, promote_across
    from slipway.target import resolve_target

    if source == to:
        raise typer.BadParameter("--from and --to name the same environment", param_hint="'--to'")
    promoted = promote_across(
        resolve_target(source), resolve_target(to), name, version, err_console, quiet=as_json
    )
    result = promoted.dump()
    if as_json and not watch:
        _emit_json(result)
        return
    if not as_json:
        if promoted.outcome == UPLOADED:
            console.print(
                f"{name} {version} (sha256 {promoted.sha256}) promoted from {source} to {to}: "
                f"declared by {promoted.declared_by} with {source}'s attestation, uploaded as "
                f"s3://{promoted.bucket}/{promoted.key} (object version "
                f"{promoted.s3_version_id})"
            )
        else:
            console.print(
                f"{name} {version} is registered in {to} already with these bytes "
                f"({promoted.target_status}): nothing uploaded"
            )
    if watch:
        _status(name, version, to, True, timeout, as_json, extra={"promotion": result})
    else:
        console.print(f"follow it: slipway status {name} {version} --env {to} --watch")


@app.command("attestation-key")
def attestation_key(env: EnvOption = "local", as_json: JsonOption = False) -> None:
    """Print the environment's attestation public key (base64 DER, one line): the next
    environment's accepts_from.public_key in cdk.json."""
    from slipway.promote_across import attestation_public_key
    from slipway.target import resolve_target

    key = attestation_public_key(resolve_target(env))
    if as_json:
        _emit_json({"environment": env, "public_key": key})
    else:
        typer.echo(key)


@app.command()
def pull(
    name: NameArgument,
    version: VersionArgument,
    env: EnvOption = "local",
    out: Annotated[
        Path | None, typer.Option(help="file to write (default NAME-VERSION.tar.gz)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Download a registered version's bundle: the exact object version the registry
    recorded, verified against its digest before it is written."""
    import hashlib
    import tempfile

    from registry.repository import LineageRepository
    from registry.s3_versions import version_args
    from slipway.target import resolve_target

    target = resolve_target(env)
    item = LineageRepository(target.table()).get_version(name, version)
    if item is None:
        raise CliError(f"{name} {version} is not registered in {env}")
    bundle = item["bundle"]
    destination = out or Path(f"{name}-{version}.tar.gz")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        partial_path = Path(partial.name)
    try:
        target.client("s3").download_file(
            bundle["bucket"],
            bundle["key"],
            str(partial_path),
            ExtraArgs=version_args(bundle["s3_version_id"]),
        )
        digest = hashlib.sha256(partial_path.read_bytes()).hexdigest()
        if digest != bundle["digest"]:
            raise CliError(
                f"the downloaded bytes have sha256 {digest}, the registry recorded "
                f"{bundle['digest']}: nothing was written"
            )
        partial_path.replace(destination)
    finally:
        partial_path.unlink(missing_ok=True)
    result = {"bundle": str(destination), "digest": digest, "status": item.get("status")}
    if as_json:
        _emit_json(result)
    else:
        console.print(
            f"wrote {destination}: {name} {version} ({item.get('status')}), sha256 {digest}"
        )


@app.command()
def serve(
    bundle: Annotated[Path, typer.Argument(help="bundle .tar.gz to serve")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
) -> None:
    """Serve one bundle over HTTP with uvicorn: the endpoint's routes, no AWS needed."""
    import gc
    import tempfile

    import uvicorn

    from model_runtime.serving.app import create_app
    from model_runtime.single_bundle_store import SingleBundleStore

    if not bundle.is_file():
        raise CliError(f"{bundle} does not exist")
    work = Path(tempfile.mkdtemp(prefix="slipway-serve-"))
    store = SingleBundleStore(bundle, work)
    server_app = create_app(store)
    gc.freeze()  # the app and the loaded model live as long as the server: stop scanning them
    name = store.manifest.name
    console.print(
        f"serving {name} {store.manifest.version} on http://{host}:{port} "
        f"(POST /v1/models/{name}/predict, docs at /docs)"
    )
    uvicorn.run(server_app, host=host, port=port, log_level="warning")


@app.command()
def ui(
    env: EnvOption = "local",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="port on 127.0.0.1 (0: any free port)")
    ] = 8765,
    open_browser: Annotated[
        bool,
        typer.Option(
            "--open",
            help="also open the link in a browser; its secret is then on that browser's "
            "command line, which other users of this machine can read",
        ),
    ] = False,
) -> None:
    """A web console of the environment's registry on 127.0.0.1: models, versions, the gate,
    lineage, audit, monitoring; approve, reject, retry, roll back. It calls the registry with
    your credentials; open the printed link (its secret is new at each start). Ctrl-C stops."""
    from slipway.console.server import start_console
    from slipway.target import resolve_target

    try:
        running = start_console(resolve_target(env), port)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    # printed, not opened, by default: a browser started with the link carries the secret
    # in its command line (/proc/<pid>/cmdline), readable by every local user
    console.print(f"Console: {running.url}", markup=False, highlight=False, soft_wrap=True)
    if open_browser:
        import webbrowser

        webbrowser.open(running.url)
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


# -- watching, invoking, tracing -----------------------------------------------------------


@app.command()
def status(
    name: NameArgument,
    version: LiveVersionArgument = None,
    env: EnvOption = "local",
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="follow until it ends, through approval waits and canary bakes (Ctrl-C stops "
            "watching, not the promotion)",
        ),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="seconds to watch at most (default: until it ends)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A promotion's progress and outcome; exit 1 unless it is live or still running
    (rejected, failed, superseded, cancelled); exit 130 when watching is stopped with
    Ctrl-C."""
    _status(name, version, env, watch, timeout, as_json)


def _status(
    name: str,
    version: str | None,
    env: str,
    watch: bool,
    timeout: float | None,
    as_json: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    """`slipway status`; ``extra`` goes into its JSON answer (`promote --watch --json`)."""
    from registry.repository import LineageRepository
    from registry.statuses import VersionStatus
    from slipway.promotion import PromotionResult, execution_arn_of, find_execution, outcome
    from slipway.target import resolve_target

    target = resolve_target(env)
    repository = LineageRepository(target.table())
    version = version or _live_version(repository, name, env)
    try:
        execution_arn = find_execution(target, name, version, wait_seconds=30 if watch else 0)
        if watch:
            _watch(target, execution_arn, name, version, env, timeout, as_json)
    except KeyboardInterrupt:
        err_console.print(
            f"stopped watching; the promotion goes on: `slipway status {name} {version} "
            f"--env {env} --watch` follows it again",
            markup=False,
        )
        raise typer.Exit(130) from None
    result = outcome(target, execution_arn)
    registered = repository.get_version(name, version)
    # The newest upload is what this command follows; the registry says what the version is.
    # A failed upload under a registered version (other bytes, or garbage) is rejected
    # itself, and leaves the version as it was.
    earlier = registered is not None and execution_arn != execution_arn_of(
        target, registered["execution"]
    )
    result["version_status"] = registered["status"] if registered else None
    pointer = repository.get_pointer(name)
    result.update(
        {"model": name, "version": version, "live_version": pointer["version"] if pointer else None}
    )
    if result["status"] == "SUCCEEDED":
        result["endpoint"] = target.endpoint_url() + f"/v1/models/{name}/predict"
    # the same bytes again end "already registered"; what counts is what the version is
    rejected_before = result.get("result") == PromotionResult.ALREADY_REGISTERED and result[
        "version_status"
    ] in (VersionStatus.REJECTED, VersionStatus.FAILED, VersionStatus.SUPERSEDED)
    if rejected_before:
        result["reason"] = (registered or {}).get("rejection_reason")
    if as_json:
        _emit_json({**(extra or {}), **result})
    elif rejected_before:
        err_console.print(
            f"[bold red]{name} {version}: already registered, and {result['version_status']}[/]"
            f": {result['reason']}; package the model again under a new version"
        )
    elif result["status"] == "SUCCEEDED":
        console.print(
            f"[bold green]{name} {version}: {result['result']}[/]; live version is "
            f"{result['live_version']}; endpoint {result['endpoint']}"
        )
    elif result["status"] == "RUNNING":
        console.print(f"{name} {version}: promotion running ({execution_arn})")
    elif earlier:
        err_console.print(
            f"[bold red]{name} {version}: this upload was rejected[/]: {result.get('reason')}; "
            f"the version registered earlier is {result['version_status']}"
        )
    elif result["version_status"] == VersionStatus.CANCELLED:
        err_console.print(
            f"[bold red]{name} {version}: cancelled[/] by {(registered or {}).get('cancelled_by')}"
            f": {(registered or {}).get('cancel_reason') or 'no reason given'}"
        )
    elif result["version_status"] == VersionStatus.FAILED:
        err_console.print(
            f"[bold red]{name} {version}: failed[/] (an infrastructure error, not a verdict on "
            f"the model): {result.get('reason')}; `slipway retry {name} {version}` runs its "
            "gate again"
        )
    elif result["version_status"] == VersionStatus.SUPERSEDED:
        err_console.print(
            f"[bold red]{name} {version}: superseded[/]: {result.get('reason')}; `slipway "
            f"retry {name} {version}` runs its gate again"
        )
    else:
        err_console.print(f"[bold red]{name} {version}: rejected[/]: {result.get('reason')}")
    if result["status"] not in ("SUCCEEDED", "RUNNING") or rejected_before:
        raise typer.Exit(1)


def _watch(
    target: Any,
    execution_arn: str,
    name: str,
    version: str,
    env: str,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Each step as it passes or fails; once, each wait for a person or a bake, with what to
    do next (on stderr under --json, whose stdout is one document)."""
    from rich.markup import escape

    from slipway.promotion import StepState, watch_steps

    notices = err_console if as_json else console
    for step in watch_steps(target, execution_arn, timeout_seconds=timeout):
        if step.state == StepState.AWAITING_APPROVAL:
            notices.print(
                f"  ⏸ {step.step}: {name} {version} waits for a person's decision: "
                f"`slipway approve {name} {version} --env {env}` or "
                f"`slipway reject {name} {version} --env {env} --reason TEXT`; still watching "
                "(Ctrl-C stops watching, not the promotion)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        elif step.state == StepState.BAKING:
            until = datetime.fromisoformat(step.detail).astimezone(UTC)
            notices.print(
                f"  ⏳ {step.step}: the canary of {name} {version} takes a share of live "
                f"traffic until about {until:%Y-%m-%d %H:%M:%S} UTC (longer while it has "
                "too few requests to judge); still watching (Ctrl-C stops watching, not the "
                "promotion)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        elif as_json:
            continue
        elif step.state == StepState.FAILED:
            err_console.print(f"  [red]✗ {step.step or 'failed'}[/] {escape(step.detail)}")
        elif step.state == StepState.PASSED:
            console.print(f"  [green]✓[/] {step.step}")


@app.command()
def invoke(
    name: NameArgument,
    data: Annotated[str, typer.Option(help="JSON body, e.g. '{\"inputs\": [[1, 2]]}', or @file")],
    env: EnvOption = "local",
    version: Annotated[
        str | None, typer.Option(help="call this exact version", callback=_model_version)
    ] = None,
    stage: Annotated[Stage, typer.Option(help="the stage pointer to call")] = Stage.LIVE,
    endpoint: Annotated[str, typer.Option(help="endpoint name from cdk.json")] = "default",
    as_json: JsonOption = False,
) -> None:
    """Ask a model for a prediction through its endpoint."""
    from slipway.invoke import call_candidate, call_endpoint, predict_path
    from slipway.target import resolve_target

    raw = Path(data[1:]).read_text() if data.startswith("@") else data
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"--data is not valid JSON: {exc}") from None
    target = resolve_target(env)
    path = predict_path(name, version, stage)
    if stage is Stage.STAGING:  # live endpoints serve no candidates
        answer = call_candidate(target, name, "POST", path, raw.encode())
    else:
        answer = call_endpoint(target, "POST", path, raw.encode(), endpoint)
    if as_json:
        _emit_json({"status": answer.status, "version": answer.version, "body": answer.body})
    elif answer.status == 200:
        console.print(f"{name} {answer.version}: outputs {answer.body['outputs']}")
    else:
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
        err_console.print(f"[red]HTTP {answer.status}[/]: {detail}")
    if answer.status != 200:
        raise typer.Exit(1)


@app.command()
def lineage(
    name: Annotated[str | None, typer.Argument(help="model name", callback=_model_name)] = None,
    version: LiveVersionArgument = None,
    env: EnvOption = "local",
    dataset: Annotated[
        str | None, typer.Option(help="a dataset file or sha256: which versions used it")
    ] = None,
    openlineage: Annotated[
        bool, typer.Option("--openlineage", help="print OpenLineage run events")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """A version's datasets, code, parameters, metrics and audit trail."""
    from registry.items import public
    from registry.repository import LineageRepository
    from slipway.target import resolve_target

    if dataset is not None:
        _dataset_users(env, dataset, as_json)
        return
    if name is None:
        raise CliError("name a model, or ask about a dataset with --dataset FILE|SHA256")
    target = resolve_target(env)
    repository = LineageRepository(target.table())
    version = version or _live_version(repository, name, env)
    item = repository.get_version(name, version)
    history = repository.audit_history(name, version)
    reports = repository.monitor_reports(name, version, limit=5)
    if item is None and not history:
        raise CliError(f"{name} {version} is not registered in {env}")
    if openlineage:
        from slipway.invoke import call_registry

        _emit_json(
            call_registry(target, "GET", f"/v1/models/{name}/versions/{version}/openlineage")
        )
        return
    issued = repository.attestations(name, version)
    if as_json:
        version_document = public(item) if item is not None else None
        _emit_json(
            {
                "version": version_document,
                "audit": [public(e) for e in history],
                "monitoring": [public(r) for r in reports],
                "attestations": [public(a) for a in issued],
            }
        )
        return
    tree = Tree(f"[bold]{name} {version}[/] — {item['status'] if item else 'not registered'}")
    if item is not None:
        bundle = item["bundle"]
        tree.add(
            f"bundle sha256 {bundle['digest']} (s3://{bundle['bucket']}/{bundle['key']} "
            f"version {bundle['s3_version_id']})"
        )
        code = item["lineage"]["code"]
        tree.add(
            f"code {code['repository']} @ {code['commit']}" + (" (dirty)" if code["dirty"] else "")
        )
        datasets = tree.add("datasets")
        for dataset in item["lineage"]["datasets"]:
            datasets.add(
                f"{dataset['role']}: sha256 {dataset['sha256']} "
                f"({dataset['rows']} rows) {dataset['uri']}"
            )
        if item["lineage"].get("params"):
            tree.add(f"params {json.dumps(item['lineage']['params'])}")
        if item["lineage"].get("metrics"):
            tree.add(f"metrics {json.dumps(item['lineage']['metrics'])}")
    _attestation_branches(tree, item, issued, env)
    audit = tree.add("audit")
    for event in history:
        audit.add(f"{event['at']} {event['step']}: {event['outcome']} — {event['reason']}")
    if reports:
        watched = tree.add("monitoring (newest first; slipway monitor)")
        for report in reports:
            drifted = ", ".join(report.get("drifted_columns") or []) or "no column"
            watched.add(
                f"{report['window']['end']} {report['verdict']}: drifted {drifted}; "
                f"max PSI {report.get('max_psi')}"
            )
    console.print(tree)


def _attestation_branches(
    tree: Tree, item: dict[str, Any] | None, issued: list[dict[str, Any]], env: str
) -> None:
    """Where the version has been: the environments before this one (the attestation it
    arrived with, verified), and what this environment signed about it."""
    received = (item or {}).get("received_attestation")
    if received:
        came = tree.add(
            f"arrived from {received['environment']} (account {received.get('account')}): "
            f"{received.get('status')} there, attested {received.get('issued_at')}, "
            f"verified {received.get('verified_at')}; statement sha256 "
            f"{received['statement_sha256']}"
        )
        for earlier in received.get("chain") or []:
            came.add(f"before that: {earlier['environment']} ({earlier['statement_sha256']})")
    if issued:
        signed = tree.add(f"attested by {env}")
        for attestation in issued:
            signed.add(
                f"{attestation['issued_at']} {attestation['occasion']}: statement sha256 "
                f"{attestation['statement_sha256']}"
            )


WindowOption = Annotated[str | None, typer.Option("--window", help="hours or days, e.g. 24h or 7d")]


@monitor_app.command("show")
def monitor_show(
    name: NameArgument,
    version: LiveVersionArgument = None,
    env: EnvOption = "local",
    window: WindowOption = None,
    last: Annotated[int, typer.Option(min=1, max=100, help="reports in the chart")] = 20,
    as_json: JsonOption = False,
) -> None:
    """A version's latest monitor report: the verdict, the columns that drifted most
    (PSI, missing rate, unseen share), the live metric, and a chart of the last reports
    (also `slipway monitor NAME`). --window: only reports over that window."""
    from urllib.parse import urlencode

    from slipway.invoke import call_registry
    from slipway.monitor_view import render, window_hours
    from slipway.target import resolve_target

    hours = window_hours(window)
    query = urlencode(
        {
            "limit": last,
            **({"version": version} if version else {}),
            **({"window": f"{hours}h"} if hours is not None else {}),
        }
    )
    answer = call_registry(resolve_target(env), "GET", f"/v1/models/{name}/monitoring?{query}")
    if as_json:
        if hours is not None:  # a registry API older than its window filter sends them all
            answer["reports"] = [
                r for r in answer["reports"] if round(float(r["window"]["hours"])) == hours
            ]
        _emit_json(answer)
        return
    for line in render(answer, hours):
        console.print(line, highlight=False, soft_wrap=True)


@monitor_app.command("run")
def monitor_run(
    name: NameArgument,
    version: Annotated[
        str | None,
        typer.Argument(help="default: the live version and its canary", callback=_model_version),
    ] = None,
    env: EnvOption = "local",
    window: WindowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the monitor job now for one model (its window ends now; default length: the
    environment's window_hours) and print each version's verdict; exit 1 if a version's
    report failed."""
    from slipway.monitor_view import invoke_job, render_run, window_hours
    from slipway.target import resolve_target

    hours = window_hours(window)
    request: dict[str, Any] = {"model": name}
    if version:
        request["version"] = version
    if hours:
        request["window_hours"] = hours
    answer = invoke_job(resolve_target(env), request)
    if as_json:
        _emit_json(answer)
    else:
        for line in render_run(answer):
            console.print(line, highlight=False, soft_wrap=True)
    if answer["failures"]:
        raise typer.Exit(1)


def _live_version(repository: Any, name: str, env: str) -> str:
    pointer = repository.get_pointer(name)
    if pointer is None:
        raise CliError(f"model {name!r} has no live version in {env}")
    return str(pointer["version"])


def _dataset_users(env: str, dataset: str, as_json: bool) -> None:
    from model_runtime.extraction import sha256_file
    from registry.names import SHA256_PATTERN
    from slipway.invoke import call_registry
    from slipway.target import resolve_target

    if SHA256_PATTERN.fullmatch(dataset):
        digest = dataset
    elif Path(dataset).is_file():
        digest = sha256_file(Path(dataset))
    else:
        raise CliError(f"{dataset} is neither a file nor a sha256")
    answer = call_registry(resolve_target(env), "GET", f"/v1/datasets/{digest}/models")
    if as_json:
        _emit_json(answer)
        return
    if not answer["versions"]:
        console.print(f"no registered version used dataset {digest}")
    for row in answer["versions"]:
        live = " [bold green](live)[/]" if row["live"] else ""
        console.print(f"{row['model']} {row['version']}: {row['role']} data{live}")


# -- registry decisions and listings -----------------------------------------------------

ReasonOption = Annotated[str, typer.Option(help="why; recorded in the audit trail")]


@app.command()
def approve(
    name: NameArgument,
    version: VersionArgument,
    env: EnvOption = "local",
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Approve a version waiting for manual approval; its promotion goes on."""
    _decide("POST", f"/v1/models/{name}/versions/{version}/approve", env, reason, as_json)


@app.command()
def reject(
    name: NameArgument,
    version: VersionArgument,
    env: EnvOption = "local",
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Reject a version waiting for manual approval; its promotion ends, recorded."""
    _decide("POST", f"/v1/models/{name}/versions/{version}/reject", env, reason, as_json)


@app.command()
def rollback(
    name: NameArgument,
    env: EnvOption = "local",
    reason: ReasonOption = "",
    to: Annotated[
        str | None,
        typer.Option(
            help="a version that was live; default: the last good one before",
            callback=_model_version,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Point a model's live stage back at the last good version live before the current one
    (never one rolled back from), or at --to; a promotion of the model in flight is
    cancelled, recorded with who did it."""
    body = {"reason": reason, **({"to": to} if to is not None else {})}
    _decide("POST", f"/v1/models/{name}/rollback", env, reason, as_json, body)


@app.command()
def retry(
    name: NameArgument,
    version: VersionArgument,
    env: EnvOption = "local",
    reason: ReasonOption = "",
    as_json: JsonOption = False,
) -> None:
    """Run the gate again for a version that failed (an infrastructure error, not a verdict
    on the model) or was superseded, on the same uploaded bytes; audited. Follow it with
    `slipway status`."""
    _decide("POST", f"/v1/models/{name}/versions/{version}/retry", env, reason, as_json)


@app.command()
def unlock(name: NameArgument, env: EnvOption = "local", as_json: JsonOption = False) -> None:
    """Release a model's promotion lock whose holder no longer runs (stopped, or failed past
    its failure handler); refused while the holder runs. Audited."""
    from registry.audit import AuditEvent, AuditOutcome, AuditStep
    from registry.lock_holders import holder_status
    from registry.promotion_line import PromotionLine
    from registry.repository import LineageRepository
    from slipway.promotion import execution_arn_of
    from slipway.target import resolve_target

    target = resolve_target(env)
    repository = LineageRepository(target.table())
    holder = repository.lock_holder(name)
    if holder is None:
        raise CliError(f"no promotion of {name} holds its lock in {env}")
    if not holder.get("execution_arn"):  # a lock written before locks kept their holder's ARN
        holder = {**holder, "execution_arn": execution_arn_of(target, holder["execution"])}
    sfn = target.client("stepfunctions")
    status = holder_status(sfn, holder)
    if status == "RUNNING":
        raise CliError(
            f"the lock of {name} is held by execution {holder['execution']} (version "
            f"{holder.get('version', '?')}), which is running: let it end, or stop it with "
            f"`aws stepfunctions stop-execution --execution-arn {holder['execution_arn']}`"
        )
    released = repository.release_lock(name, holder["execution"])
    if released:
        actor = target.client("sts").get_caller_identity()["Arn"]
        repository.record_audit(
            AuditEvent(
                name,
                str(holder.get("version", "?")),
                holder["execution"],
                AuditStep.UNLOCK,
                AuditOutcome.RELEASED,
                f"released with slipway unlock: its holder ended {status}",
                actor,
            )
        )
    handed_to = PromotionLine(repository, sfn).hand_over(name)  # the next in line goes on
    result = {
        "model": name,
        "released": released,
        "holder": holder["execution"],
        "holder_status": status,
        "handed_to": handed_to,
    }
    if as_json:
        _emit_json(result)
        return
    said = "released" if released else "was released meanwhile"
    console.print(f"lock of {name} {said} (holder {holder['execution']}, {status})")
    if handed_to:
        console.print(f"handed to the next in line: execution {handed_to}")


@app.command()
def doctor(
    name: Annotated[
        str | None,
        typer.Argument(help="one model (default: every model)", callback=_model_name),
    ] = None,
    env: EnvOption = "local",
    as_json: JsonOption = False,
) -> None:
    """Find what is inconsistent in the registry (a pointer to a missing version, two live
    versions, a stale lock, a version whose promotion ended undecided) and say what repairs
    it; exit 1 when anything is found. Reads only."""
    from registry.doctor import Doctor
    from registry.repository import LineageRepository
    from slipway.promotion import execution_arn_of
    from slipway.target import resolve_target

    target = resolve_target(env)
    repository = LineageRepository(target.table())
    examiner = Doctor(
        repository, target.client("stepfunctions"), lambda e: execution_arn_of(target, e)
    )
    names = [name] if name else [m["name"] for m in _all_models(repository)]
    findings = [finding for model in names for finding in examiner.examine(model)]
    if as_json:
        _emit_json({"models": len(names), "findings": [f.dump() for f in findings]})
    elif not findings:
        console.print(f"[green]{len(names)} model(s) examined in {env}: nothing inconsistent[/]")
    else:
        for finding in findings:
            err_console.print(f"[bold red]{finding.model}: {finding.problem}[/]: {finding.detail}")
            err_console.print(f"  fix: {finding.remedy}")
    if findings:
        raise typer.Exit(1)


def _all_models(repository: Any) -> list[dict[str, Any]]:
    models, start = [], None
    while True:
        page = repository.list_models(limit=100, start=start)
        models.extend(page.items)
        if page.next_key is None:
            return models
        start = page.next_key


@dlq_app.command("list")
def dlq_list(env: EnvOption = "local", as_json: JsonOption = False) -> None:
    """How many events wait in each dead-letter queue, and what the first ones are about;
    exit 1 when any waits."""
    from slipway.dead_letters import dead_letters
    from slipway.target import resolve_target

    target = resolve_target(env)
    found = dead_letters(target.client("sqs"), target.outputs)
    if as_json:
        _emit_json(found)
    else:
        for queue in found:
            console.print(f"{queue['queue']}: {queue['messages']} waiting")
            for message in queue["first"]:
                console.print(f"  {message['id']}  {message['about']}")
    if any(queue["messages"] for queue in found):
        raise typer.Exit(1)


@dlq_app.command("redrive")
def dlq_redrive(
    queue: Annotated[DeadLetterQueueName, typer.Argument(help="which dead-letter queue")],
    env: EnvOption = "local",
    as_json: JsonOption = False,
) -> None:
    """Send the events of a dead-letter queue back to the queue they came from, once the
    cause is fixed (every handler is idempotent)."""
    from slipway.dead_letters import redrive
    from slipway.target import resolve_target

    target = resolve_target(env)
    moved = redrive(target.client("sqs"), target.outputs, queue.value)
    if as_json:
        _emit_json({"queue": queue.value, "moved": moved})
    else:
        console.print(f"{queue.value}: {moved} events sent back")


def _decide(
    method: str,
    path: str,
    env: str,
    reason: str,
    as_json: bool,
    body: dict[str, Any] | None = None,
) -> None:
    from slipway.invoke import call_registry
    from slipway.target import resolve_target

    answer = call_registry(resolve_target(env), method, path, body or {"reason": reason})
    if as_json:
        _emit_json(answer)
    else:
        console.print(", ".join(f"{key} {value}" for key, value in answer.items()))


@app.command()
def models(env: EnvOption = "local", as_json: JsonOption = False) -> None:
    """Every registered model with the version it serves (live) and its newest registered
    version (which may still be in its gate, or rejected)."""
    from slipway.target import resolve_target

    rows = _all_pages(resolve_target(env), "/v1/models", "models", {})
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        live = row.get("live_version")
        serving = f"live {live}" if live is not None else "no live version"
        console.print(
            f"{row['name']}: {serving}; latest registered {row['latest_version']} "
            f"(model since {row['created_at']})"
        )


@app.command()
def versions(
    name: NameArgument,
    env: EnvOption = "local",
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    as_json: JsonOption = False,
) -> None:
    """Versions of a model with their status, in natural order (2 before 10)."""
    from registry.names import version_order
    from slipway.target import resolve_target

    params = {"status": status} if status else {}
    rows = _all_pages(resolve_target(env), f"/v1/models/{name}/versions", "versions", params)
    # the table orders versions as text (1, 10, 2); people count
    rows.sort(key=lambda row: version_order(str(row.get("version", ""))))
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        console.print(_version_line(row), soft_wrap=True)  # one line per version, any width


def _version_line(row: dict[str, Any]) -> str:
    """One version as ``slipway versions`` lists it."""
    line = f"{row.get('version', '?')}: {row.get('status', '?')}"
    line += f" (registered {row['registered_at']})" if "registered_at" in row else ""
    baseline = row.get("baseline")  # the monitoring baseline's summary (older bundles: none)
    if isinstance(baseline, dict):
        line += f", baseline: {baseline.get('rows')} rows, {baseline.get('columns')} columns"
    return line + (f" [damaged: {row['damaged']}]" if "damaged" in row else "")


def _all_pages(target: Any, path: str, key: str, params: dict[str, str]) -> list[Any]:
    """Every item of a paginated registry listing, following next_token."""
    from urllib.parse import urlencode

    from slipway.invoke import call_registry

    rows: list[Any] = []
    token = None
    while True:
        query = urlencode({**params, **({"next_token": token} if token else {})})
        page = call_registry(target, "GET", path + (f"?{query}" if query else ""))
        rows.extend(page[key])
        token = page["next_token"]
        if not token:
            return rows


def main() -> None:
    """Entry point: usage errors exit 2, failures exit 1 with one line; no traceback unless
    ``--debug`` is on the command line."""
    from model_runtime.exceptions import SlipwayRuntimeError

    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except SlipwayRuntimeError as exc:
        if debug:
            raise
        _fail(str(exc))
    except Exception as exc:
        if debug:
            raise
        _fail(f"{type(exc).__name__}: {exc} (rerun with --debug)")


def _fail(message: str) -> None:
    """An unexpected failure in one line (as JSON on stdout under --json, as CliError's),
    exit 1."""
    if "--json" in sys.argv:
        typer.echo(json.dumps({"error": message}))
    else:
        err_console.print(f"Error: {message}", markup=False, highlight=False)
    sys.exit(1)


if __name__ == "__main__":
    main()
