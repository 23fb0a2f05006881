"""The `clickpulse` command: the local stack, one subcommand per service, sites and the demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path

import msgspec
import redis.asyncio as aioredis
from pydantic import ValidationError

from clickpulse.log_format import configure_logging, logging_config
from clickpulse.settings import Settings, get_settings
from clickpulse.sites import RULE_FIELDS, Site, SiteRegistry


def _run_ingest(settings: Settings, args: argparse.Namespace) -> None:
    from clickpulse.folder_claim import FolderInUse
    from ingest.app import create_app, serve
    from ingest.site_cache import wait_for_redis

    try:
        app = create_app(settings)
        asyncio.run(wait_for_redis(settings.redis_url, settings.dependency_wait_s))
    except (FolderInUse, RuntimeError) as exc:
        sys.exit(f"error: {exc}")
    serve(app, settings)


def _run_api(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app
    from clickhouse.client import wait_for_clickhouse
    from ingest.http_protocol import protocol_with_head_deadline

    _exit_if_unreachable(wait_for_clickhouse(settings))
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=logging_config(settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,
        # The API uses no client address; uvicorn would otherwise believe X-Forwarded-For from loopback peers.
        proxy_headers=False,
        # The dashboard's server faces browsers like ingest does: without a deadline for a request's head, clients
        # that send it slowly or not at all held their connections for ever (slowloris).
        http=protocol_with_head_deadline(settings.head_timeout_s),
        timeout_graceful_shutdown=5,
    )


def _run_worker(settings: Settings, args: argparse.Namespace) -> None:
    import faust

    from stream_jobs.app import app, hand_offs, metrics
    from stream_jobs.rocksdb_store import flushed_at_stop
    from stream_jobs.store_checkpoint import StoreCheckpoint
    from stream_jobs.worker_probes import WorkerProbes

    _exit_if_unreachable(_ensure_topics(settings))
    checkpoint = StoreCheckpoint(Path(app.conf.tabledir))
    checkpoint.open()
    # The worker starts its services before the app, whose start waits for table recovery.
    probes = [WorkerProbes(app, metrics, settings)] if settings.worker_http_port else []
    worker = faust.Worker(
        app, *probes, loglevel=settings.log_level, quiet=True, logging_config=logging_config(settings.log_level)
    )
    # Faust's terminal spinner sets the root logger to DEBUG (to spin per record): a record built per message.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        # Its stop waited for the batches in flight, flushed the producer and the table stores, unless the app crashed
        # or Kafka never took a batch's outputs (then their rows' changelog records never went).
        if (
            stop.code == 0
            and app.crash_reason is None
            and worker.crash_reason is None
            and hand_offs.settled()
            and all(flushed_at_stop(table.data) for table in app.tables.values())
        ):
            checkpoint.stopped_cleanly()
        raise


def _run_loader(settings: Settings, args: argparse.Namespace) -> None:
    from clickhouse.client import connect, wait_for_clickhouse
    from clickhouse.loader import Loader
    from clickhouse.loader_probes import run_with_probes
    from clickhouse.migrate import apply_migrations
    from clickhouse.retention import apply_retention
    from clickpulse.probe_server import ProbePortTaken

    if settings.effective_clickhouse_dsn.startswith("chdb:"):
        # The API runs the embedded engine's loader and holds its files: a second engine on them fails obscurely,
        # and one on other files would fill a warehouse nobody queries.
        sys.exit(
            "error: with a chdb:// ClickHouse DSN the loader runs inside `clickpulse api`; `clickpulse loader` is "
            "for a ClickHouse server (CLICKPULSE_CLICKHOUSE_DSN=http://user:pass@host:8123)"
        )
    _exit_if_unreachable(wait_for_clickhouse(settings))
    client = connect(settings)
    apply_migrations(client, settings.clickhouse_database)
    apply_retention(client, settings.clickhouse_database, settings.retention_days)
    stop = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_with_probes(Loader(settings, client), settings, stop)

    try:
        asyncio.run(main())
    except ProbePortTaken as exc:
        sys.exit(f"error: {exc}")


def _migrate(settings: Settings, args: argparse.Namespace) -> None:
    from clickhouse.client import connect, wait_for_clickhouse
    from clickhouse.migrate import apply_migrations
    from clickhouse.retention import apply_retention

    _exit_if_unreachable(wait_for_clickhouse(settings))
    client, database = connect(settings), settings.clickhouse_database
    applied = apply_migrations(client, database)
    retention_changed = apply_retention(client, database, settings.retention_days)
    print(json.dumps({"applied": applied, "retention_changed": retention_changed}))


async def _ensure_topics(settings: Settings) -> None:
    from clickpulse.topics import ensure_topics

    await ensure_topics(settings, settings.dependency_wait_s)


def _exit_if_unreachable(waiting: Coroutine[object, object, None]) -> None:
    """Run a start-up wait for a dependency; one that stays unreachable ends the command with the reason, not a
    traceback."""
    try:
        asyncio.run(waiting)
    except RuntimeError as exc:
        sys.exit(f"error: {exc}")


async def _with_registry(settings: Settings, action: Callable[[SiteRegistry], object]) -> object:
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        result = action(SiteRegistry(redis))
        return await result if asyncio.iscoroutine(result) else result
    finally:
        await redis.aclose()


def _site(settings: Settings, args: argparse.Namespace) -> None:
    if args.site_command == "create":
        created = asyncio.run(_with_registry(settings, lambda r: r.create(args.name, args.origin, args.session_gap_s)))
        print(json.dumps(msgspec.to_builtins(created)))
    elif args.site_command == "list":
        sites = asyncio.run(_with_registry(settings, lambda r: r.all()))
        assert isinstance(sites, list)
        for site in sites:
            print(json.dumps({"site_id": site.site_id, "name": site.name, "write_key": site.write_key,
                              "origins": site.origins, "revoked": site.revoked}))  # fmt: skip
    elif args.site_command == "tune-intent":
        _tune_intent(settings, args)
    elif args.site_command == "rules":
        _site_rules(settings, args)
    elif args.site_command == "webhook":
        _site_webhook(settings, args)
    elif args.site_command == "new-key":
        key = asyncio.run(_with_registry(settings, lambda r: r.new_key(args.site_id, args.kind)))
        if not isinstance(key, str):
            sys.exit(f"no site {args.site_id}")
        print(json.dumps({"site_id": args.site_id, f"{args.kind}_key": key}))
    elif args.site_command == "revoke":
        if not asyncio.run(_with_registry(settings, lambda r: r.revoke(args.site_id))):
            sys.exit(f"no site {args.site_id}")
        print(json.dumps({"site_id": args.site_id, "revoked": True}))


def intent_setting_names() -> tuple[str, ...]:
    from stream_jobs.intent import IntentSettings

    return IntentSettings.__struct_fields__


def intent_overrides(current: Mapping[str, float], pairs: list[str]) -> dict[str, int | float]:
    """A site's intent overrides after NAME=VALUE pairs, checked whole as the worker will read them (raises
    ValueError saying what is wrong); values come back in their fields' types (half_life_ms=3600000 is an int)."""
    from stream_jobs.intent import tuned

    fields = intent_setting_names()
    changes: dict[str, float] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise ValueError(f"unknown intent setting {name!r}; one of: {', '.join(fields)}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"intent setting {name} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"intent setting {name} must be a finite number, not {value!r}")
        changes[name] = number
    merged = {name: v for name, v in {**current, **changes}.items() if name in fields}
    try:
        checked = tuned(merged)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid intent settings, nothing saved: {exc}") from None
    return {name: getattr(checked, name) for name in merged}


def _tune_intent(settings: Settings, args: argparse.Namespace) -> None:
    async def tune(registry: SiteRegistry) -> Site | None:
        site = await registry.get(args.site_id)
        if site is None:
            return None
        return await registry.tune_intent(args.site_id, intent_overrides(site.intent, args.set))

    try:
        site = asyncio.run(_with_registry(settings, tune))
    except ValueError as exc:
        sys.exit(str(exc))
    if not isinstance(site, Site):
        sys.exit(f"no site {args.site_id}")
    print(json.dumps({"site_id": args.site_id, "intent": site.intent}))


def _site_rules(settings: Settings, args: argparse.Namespace) -> None:
    """Sets the rules given on the command line (the others stay) and prints all of the site's rules."""
    changes: dict[str, object] = {}
    for name in ("origins", "event_types", "strip_params"):
        values = getattr(args, name)
        if values is not None:
            changes[name] = [v for v in values if v]  # an empty value ("") clears the list
    for name in ("sample_rate", "rate_limit_per_s", "ip_rate_limit_per_s"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    try:
        site = asyncio.run(_with_registry(settings, lambda r: r.set_rules(args.site_id, changes)))
    except ValueError as exc:
        sys.exit(str(exc))
    if site is None:
        sys.exit(f"no site {args.site_id}")
    print(json.dumps({"site_id": args.site_id, **{f: getattr(site, f) for f in sorted(RULE_FIELDS)}}))


def _site_webhook(settings: Settings, args: argparse.Namespace) -> None:
    """Sets or stops a site's webhook and prints its URL and its new signing secret (shown only here)."""
    try:
        site = asyncio.run(_with_registry(settings, lambda r: r.set_webhook(args.site_id, args.url)))
    except ValueError as exc:
        sys.exit(str(exc))
    if not isinstance(site, Site):
        sys.exit(f"no site {args.site_id}")
    print(json.dumps({"site_id": args.site_id, "webhook_url": site.webhook_url, "webhook_secret": site.webhook_secret}))


def _up(settings: Settings, args: argparse.Namespace) -> None:
    from clickpulse.local_stack.stack import run_stack

    run_stack(settings, demo=args.demo, demo_visitors=args.visitors, seed=args.seed)


def _simulate(settings: Settings, args: argparse.Namespace) -> None:
    from clickpulse.demo.simulator import simulate_cli

    simulate_cli(settings, args.write_key, args.visitors, args.seed, args.ground_truth)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clickpulse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole local stack (Kafka, Redis, ingest, worker, API)")
    up.add_argument(
        "--demo", action="store_true", help="also create a demo site, serve the demo shop and drive shoppers"
    )
    up.add_argument("--visitors", type=int, default=300, help="simulated shoppers for --demo")
    up.add_argument("--seed", type=int, default=7, help="the demo shoppers' personas and journeys")
    up.set_defaults(run=_up)

    for name, run, text in (
        ("ingest", _run_ingest, "the HTTP collector"),
        ("worker", _run_worker, "a Faust stream worker"),
        ("api", _run_api, "the query API and dashboard (with the loader in embedded chDB mode)"),
        ("loader", _run_loader, "the Kafka to ClickHouse loader (server mode)"),
        ("migrate", _migrate, "apply ClickHouse migrations"),
    ):
        sub.add_parser(name, help=text).set_defaults(run=run)

    site = sub.add_parser("site", help="manage sites and keys")
    site_sub = site.add_subparsers(dest="site_command", required=True)
    create = site_sub.add_parser("create", help="create a site; prints JSON with site_id, write_key, read_key")
    create.add_argument("name")
    create.add_argument("--origin", action="append", default=[], help="allowed page origin (repeatable)")
    create.add_argument("--session-gap-s", type=int, default=0, help="this site's session inactivity gap")
    site_sub.add_parser("list", help="list sites")
    revoke = site_sub.add_parser("revoke", help="revoke a site's keys")
    revoke.add_argument("site_id")
    tune = site_sub.add_parser("tune-intent", help="override intent settings of a site, e.g. threshold=0.6")
    tune.add_argument("site_id")
    tune.add_argument("set", nargs="+", metavar="NAME=VALUE", help=f"NAME one of: {', '.join(intent_setting_names())}")
    rules = site_sub.add_parser("rules", help="set a site's rules (only those given change) and print them all")
    rules.add_argument("site_id")
    rules.add_argument("--origin", dest="origins", action="append", help="allowed page origin (repeatable; '' clears)")
    rules.add_argument("--sample-rate", type=float, help="share of visitors kept, 0..1, decided per visitor")
    rules.add_argument("--event-type", dest="event_types", action="append", help="allowed event type (repeatable)")
    rules.add_argument("--strip-param", dest="strip_params", action="append", help="query parameter removed from URLs")
    rules.add_argument(
        "--rate-limit", dest="rate_limit_per_s", type=float, help="events/s for the site (0: the default, -1: none)"
    )
    rules.add_argument(
        "--ip-rate-limit",
        dest="ip_rate_limit_per_s",
        type=float,
        help="events/s per client IP (0: the default, -1: none)",
    )
    new_key = site_sub.add_parser(
        "new-key", help="replace a site's read key (dashboards, CRMs) or admin key (erasure); prints the new one"
    )
    new_key.add_argument("site_id")
    new_key.add_argument("kind", choices=["read", "admin"])
    webhook = site_sub.add_parser(
        "webhook", help="push the site's intent signals to a URL, signed; prints the signing secret ('' stops them)"
    )
    webhook.add_argument("site_id")
    webhook.add_argument("url")
    site.set_defaults(run=_site)

    sim = sub.add_parser("simulate", help="drive simulated shoppers against a running ingest")
    sim.add_argument("write_key")
    sim.add_argument("--visitors", type=int, default=200, help="simulated shoppers")
    sim.add_argument("--seed", type=int, default=7, help="the shoppers' personas and journeys")
    sim.add_argument("--ground-truth", default="", help="write each visitor's persona and purchase to this JSONL file")
    sim.set_defaults(run=_simulate)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        # Each wrong setting by its variable's name, without a traceback: an operator's typo, not our bug.
        wrong = [f"CLICKPULSE_{'_'.join(map(str, e['loc'])).upper()}={e['input']!r}: {e['msg']}" for e in exc.errors()]
        sys.exit("error: " + "; ".join(wrong))
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    args.run(settings, args)


if __name__ == "__main__":
    main()
