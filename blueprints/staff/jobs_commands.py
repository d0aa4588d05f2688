"""`flask jobs …` and `flask notices …`: the background worker and the notices' retention."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from extensions import db

jobs_cli = AppGroup("jobs", help="一括処理 (background jobs).")
notices_cli = AppGroup("notices", help="発行帳票 (notices issued).")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run what is pending now, then exit.")
def jobs_work(once):
    """Run queued jobs, and resume those whose worker stopped (heartbeat stale); loops until stopped."""
    from services import jobs

    with db.connection_context():
        try:
            ran = jobs.work(once=once)
        except KeyboardInterrupt:
            ran = None
    if ran is not None:
        click.echo(f"{ran} 件の処理を実行しました / ran {ran} jobs")


@notices_cli.command("purge")
def notices_purge():
    """Delete the PDFs of runs past NOTICE_FILE_RETENTION_YEARS (the log of each notice stays)."""
    from services import notices

    with db.connection_context():
        removed = notices.purge_expired()
    click.echo(f"{removed} 件の帳票ファイルを削除しました / removed {removed} files")
