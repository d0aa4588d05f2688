"""`flask billing …`: the monthly rent charges (調定) from the rent decisions in force and the reductions.

    flask billing charge --month 2026-06 --dry-run   # what would be charged, nothing written
    flask billing charge --month 2026-06             # create the month's rent charges (idempotent)

Exit codes: 0 done (households without a decision in force are listed, not an error), 2 a bad month.
"""

from __future__ import annotations

import datetime as dt
import re
import sys

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from extensions import db

billing_cli = AppGroup("billing", help="調定・収納 (charges): the monthly rent charges.")

MAX_LISTED = 50  # households without a figure printed one by one; the rest are counted


def _month(text: str) -> dt.date:
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise click.BadParameter("YYYY-MM の形で指定してください / use YYYY-MM (e.g. 2026-06)")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


@billing_cli.command("charge")
@click.option("--month", "month_text", required=True, help="The month charged, YYYY-MM.")
@click.option("--dry-run", is_flag=True, help="Compute and count, write nothing.")
def billing_charge(month_text, dry_run):
    """Create the month's rent charge of every household living in a unit that month; those charged
    already are left as they are (run it again safely)."""
    from services import charges

    try:
        month = _month(month_text)
    except click.BadParameter as exc:
        click.echo(str(exc.message), err=True)
        sys.exit(2)
    with db.connection_context(), force_locale("ja"):  # the reasons are worded in Japanese
        result = charges.charge_month(month, dry_run=dry_run)
        skipped = [(household_no, str(reason)) for household_no, reason in result.skipped]
    label = f"{month.year}年{month.month}月分"
    mode = "（試算: 書き込みなし / dry run）" if dry_run else ""
    click.echo(f"{label} 住宅使用料の調定{mode}")
    click.echo(f"  対象世帯 households: {result.households}")
    click.echo(
        f"  作成 created: {result.created}（減免 reduced {result.reduced}、徴収猶予 postponed {result.postponed}）"
    )
    click.echo(f"  作成済み existing: {result.existing}")
    click.echo(f"  調定なし skipped: {len(skipped)}")
    click.echo(f"  納付額の合計 total payable: {result.total:,}円")
    for household_no, reason in skipped[:MAX_LISTED]:
        click.echo(f"    {household_no}: {reason}")
    if len(skipped) > MAX_LISTED:
        click.echo(f"    … ほか {len(skipped) - MAX_LISTED} 世帯 / and {len(skipped) - MAX_LISTED} more")
