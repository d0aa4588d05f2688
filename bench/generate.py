"""Build the city-scale data set (SPEC: up to 100,000 persons) into a database, with a progress bar.

    python -m bench.generate --persons 100000 --database-url sqlite:////tmp/bench100k.db

The same generator as `flask seed demo` (services/demo), scaled by --persons. The target database is
migrated first and must hold no estates or households. Prints the rows written, the elapsed time and
the peak memory (RSS) at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time

import config
from extensions import db, init_database


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB, macOS in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000, help="persons to generate (default 100000)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="target database (default: DATABASE_URL, else the app's configured database)",
    )
    parser.add_argument(
        "--key-dir", default=None, help="vault keys for the My Numbers (default: the app's KEY_DIR)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the demo's)")
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=None, help="the data's today (YYYY-MM-DD)"
    )
    parser.add_argument("--chunk", type=int, default=1000, help="households per transaction (default 1000)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the generator; returns the process exit status."""
    from tqdm import tqdm

    from services import demo, schema
    from services.vault import keyring_for

    args = parse_args(argv)
    started = time.perf_counter()
    overrides = {"DATABASE_URL": args.database_url} if args.database_url else {}
    if args.key_dir:
        overrides["KEY_DIR"] = args.key_dir
    settings = config.load(config.INSTANCE, overrides or None)
    keyring = keyring_for(settings)
    init_database(settings["DATABASE_URL"])
    db.connect(reuse_if_open=True)
    try:
        applied = schema.upgrade()
        if applied:
            print(f"migrated: {', '.join(applied)}")
        if not demo.database_is_empty():
            print(
                "the target database already holds estates or households; use an empty one.", file=sys.stderr
            )
            return 1
        kwargs = {"seed": args.seed} if args.seed is not None else {}
        plan = demo.plan_city(persons=args.persons, as_of=args.as_of or demo.today(), **kwargs)
        print(
            f"planned: {len(plan.households):,} households, {plan.persons:,} persons, "
            f"{plan.estates} estates, {plan.units:,} units (as of {plan.as_of.isoformat()})"
        )
        with tqdm(total=len(plan.households), unit="households", disable=args.quiet, file=sys.stderr) as bar:
            report = demo.build_city(plan, keyring, progress=bar.update, chunk_households=args.chunk)
    finally:
        db.close()
    elapsed = time.perf_counter() - started
    for table, rows in sorted(report.rows.items()):
        print(f"  {table:<20} {rows:>10,}")
    print(f"built: {report.summary()}")
    print(f"elapsed: {elapsed:.1f} s, peak memory (RSS): {peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
