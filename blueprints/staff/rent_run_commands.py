"""`flask rent run`: the yearly rent run from the command line (the same services as /staff/rent/runs/).

    flask rent run --fiscal-year 2027 --as k-tanaka            # start (or resume) the computation
    flask rent run --fiscal-year 2027                          # resume the year's run
    flask rent run --fiscal-year 2027 --approve-as k-kawasaki  # … and approve it (an officer, not the starter)

Safe to interrupt and to repeat: the computation resumes after the last batch committed, approval
after the last batch approved, and a run already approved or issued is only reported on.
"""

from __future__ import annotations

import getpass

import click

from extensions import db


def _ip() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:45]
    except (KeyError, OSError):
        return "cli:unknown"


def _user(login: str):
    from models import User

    user = User.get_or_none(User.login_id == login)
    if user is None or not user.active:
        raise click.ClickException(f"利用者 {login} は存在しないか無効です。")
    return user


def _print_summary(run) -> None:
    from models.income import RUN_STATES
    from services import rent_run

    figures = rent_run.summary(run)
    click.echo(
        f"{rent_run.fiscal_label(run.fiscal_year)} 年次処理 {run.id}: 状態 {dict(RUN_STATES)[run.state]}({run.state})、"
        f"対象 {figures.households:,} 世帯、計算済 {figures.drafts:,}、計算できない {figures.problems:,}"
    )
    click.echo(
        f"  家賃が変わる世帯 {figures.changed:,}(増 {figures.increased:,} / 減 {figures.decreased:,})、"
        f"月額合計 {figures.previous_total:,}円 → {figures.rent_total:,}円({figures.difference:+,}円)"
    )
    for code, count in figures.by_reason.items():
        click.echo(f"  理由 {rent_run.reason_label(code)}: {count:,}")
    for code, count in figures.by_status.items():
        click.echo(f"  区分 {rent_run.STATUS_LABELS.get(code, code)}: {count:,}")
    for code, count in figures.by_problem.items():
        click.echo(f"  計算できない: {rent_run.PROBLEM_LABELS.get(code, code)}: {count:,}")


@click.command("run")
@click.option("--fiscal-year", type=int, required=True, help="the fiscal year decided (年度, e.g. 2027)")
@click.option("--as", "start_as", default=None, help="login of the staff member starting a new run")
@click.option("--approve-as", default=None, help="login of the officer approving (not the starter)")
@click.option(
    "--batch", type=click.IntRange(1, 5000), default=200, show_default=True, help="households per transaction"
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def run_command(fiscal_year, start_as, approve_as, batch, quiet):
    """Compute (or resume) every household's rent for a fiscal year; optionally approve it."""
    from tqdm import tqdm

    from services import masters, rent_run

    if not 2000 <= fiscal_year <= 2200:
        raise click.BadParameter("年度は2000から2200の間で指定してください。", param_hint="--fiscal-year")
    context = {"session_ref": None, "ip": _ip()}
    with db.connection_context():
        run = rent_run.current_run(fiscal_year)
        if run is None:
            if not start_as:
                raise click.ClickException("新しい年次処理を開始する職員を --as で指定してください。")
            try:
                run = rent_run.start(fiscal_year, _user(start_as), **context)
            except masters.MasterMissing as exc:
                raise click.ClickException(f"{fiscal_year}年度のマスタが登録されていません: {exc}") from None
        if run.state == "running":
            bar = tqdm(total=run.households_total, initial=run.households_done, unit="世帯", disable=quiet)

            def report(done, total):
                bar.total = total
                bar.n = done
                bar.refresh()

            run = rent_run.compute_pending(run, batch=batch, report=report)
            bar.close()
        _print_summary(run)
        if approve_as:
            approver = _user(approve_as)
            try:
                rent_run.begin_approval(run, approver, **context)
            except rent_run.RunRefused as exc:
                raise click.ClickException(exc.message) from None
            bar = tqdm(unit="世帯", disable=quiet)

            def approved(done, total):
                bar.total = total
                bar.n = done
                bar.refresh()

            run = rent_run.approve_pending(run, batch=batch, report=approved)
            bar.close()
            queued = rent_run.queue_notices(run)
            click.echo(
                f"承認しました({run.state})。通知書は一括処理 {', '.join(str(j.id) for j in queued)} で作成されます"
                "(アプリのワーカーまたは `flask jobs work`)。"
            )
