"""`flask evictions …`: the monthly 損害賠償金 of households staying after their 明渡期限.

    flask evictions damages --month 2026-08     # charge August (and earlier months not yet charged)

Posting a month twice charges nothing twice. Exit codes: 0 done (households whose 近傍同種家賃 is missing
are listed), 2 a bad month.
"""

from __future__ import annotations

import datetime as dt
import re

import click
from flask.cli import AppGroup

evictions_cli = AppGroup("evictions", help="明渡請求 (eviction requests): damages after the deadline.")


def _month(text: str) -> dt.date:
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise click.BadParameter("YYYY-MM の形で指定してください / use YYYY-MM (e.g. 2026-08)")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


@evictions_cli.command("damages")
@click.option("--month", "month_text", required=True, help="The month charged, YYYY-MM.")
def evictions_damages(month_text):
    """Charge the damages of every approved request past its deadline up to the month."""
    from services import evictions

    month = _month(month_text)
    lines = evictions.post_damages(month)
    charged = [line for line in lines if line.charge is not None]
    for line in lines:
        if line.problem:
            click.echo(f"household {line.request.household_id}: {line.problem}")
    total = sum(line.charge.amount for line in charged)
    click.echo(
        f"損害賠償金 {len(charged)} 件 {total:,} 円を調定しました / charged {len(charged)} ({total:,} yen)"
    )
