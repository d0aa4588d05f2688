"""The benchmark (`make bench`): build a synthetic city, then time what staff and batches do on it.

    python -m bench.run [--persons 20000] [--keep DIR]

Figures printed: data generation (persons/s, peak memory), kana prefix search, the scoped household
query, 政令月収 throughput, audit trail append and verify, vault encryption, and request throughput of
two pages. Timings are medians of repeated runs on this machine; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _rate(fn, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--persons", type=int, default=20_000, help="size of the synthetic city (default 20000)"
    )
    parser.add_argument("--keep", default=None, help="build into this folder and keep it")
    args = parser.parse_args(argv)

    work = Path(args.keep or tempfile.mkdtemp(prefix="housing-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work / 'bench.db'}"
    keys = work / "keys"
    results: list[tuple[str, str]] = []

    started = time.perf_counter()
    generated = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.generate", "--persons", str(args.persons), "--database-url", url,
         "--key-dir", str(keys), "--quiet"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = next((line for line in generated.stdout.splitlines() if line.startswith("elapsed")), "")
    results.append(
        (
            f"generate {args.persons:,} persons",
            f"{seconds:.1f} s ({args.persons / seconds:,.0f} persons/s); {peak}",
        )
    )

    from app import create_app
    from extensions import db
    from models import Household, MemberIncome, Person, User
    from rules.income import Member, household_income
    from services import access, audit, masters
    from services.vault import keyring_for

    app = create_app(
        {"APP_ENV": "testing", "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url, "KEY_DIR": str(keys),
         "INSTANCE_PATH": str(work / "instance"), "WTF_CSRF_ENABLED": False}
    )  # fmt: skip
    rng = random.Random(1)
    with app.app_context(), db.connection_context():
        households = Household.select().count()
        persons = Person.select().count()
        results.append(("data set", f"{households:,} households, {persons:,} persons"))

        kana = [p.kana_key[:2] for p in Person.select(Person.kana_key).order_by(Person.id).limit(2000)]

        def kana_search():
            prefix = rng.choice(kana)
            list(Person.select(Person.id).where(Person.kana_key.startswith(prefix)).limit(200))

        results.append(("kana prefix search (≤200 rows)", f"{_median_ms(kana_search, 200):.2f} ms median"))

        staff = User.create(login_id="bench-staff", display_name="ベンチ", role="staff")
        results.append(
            (
                "visible households, staff (count)",
                f"{_median_ms(lambda: access.visible_households(staff).count(), 20):.1f} ms",
            )
        )
        from models import Office

        office = Office.select().first()
        contractor = User.create(
            login_id="bench-k", display_name="ベンチ公社", role="contractor", office=office
        )
        results.append(
            (
                "visible households, contractor (count)",
                f"{_median_ms(lambda: access.visible_households(contractor).count(), 20):.1f} ms",
            )
        )

        income_masters = masters.income_masters(2025)
        rows = list(MemberIncome.select().limit(5000))
        members = [
            Member("head", dt.date(1960, 1, 1), r.salary_revenue, r.pension_revenue, r.other_income)
            for r in rows
        ]
        count = 0

        def compute():
            nonlocal count
            household_income([members[count % len(members)]], [], income_masters)
            count += 1

        results.append(("政令月収 (rules only)", f"{_rate(compute, 20_000):,.0f} households/s"))

        results.append(
            (
                "audit record (SQLite, one transaction each)",
                f"{_rate(lambda: audit.record('bench.event', actor=staff, target_table='household', target_ids=[1]), 500):,.0f} entries/s",
            )
        )
        started = time.perf_counter()
        verified = audit.verify()
        results.append(
            (
                "audit verify",
                f"{verified.count / (time.perf_counter() - started):,.0f} entries/s ({verified.count:,} entries, ok={verified.ok})",
            )
        )

        from services import editing, household_file
        from services import search as household_search

        names = [p.name.split("\u3000")[0] for p in Person.select(Person.name).order_by(Person.id).limit(500)]
        kana_names = [p.kana_key[:3] for p in Person.select(Person.kana_key).order_by(Person.id).limit(500)]
        results.append(
            (
                "household search, カナ prefix (service, audited)",
                f"{_median_ms(lambda: household_search.search(staff, rng.choice(kana_names), actor=staff), 100):.1f} ms median",
            )
        )
        results.append(
            (
                "household search, 漢字 name (service, audited)",
                f"{_median_ms(lambda: household_search.search(staff, rng.choice(names), actor=staff), 100):.1f} ms median",
            )
        )
        keyring = keyring_for(app.config)
        hids = [h.id for h in Household.select(Household.id).order_by(Household.id).limit(2000)]
        results.append(
            (
                "household file load (all sections)",
                f"{_median_ms(lambda: household_file.load(Household.get_by_id(rng.choice(hids)), keyring=keyring), 100):.1f} ms median",
            )
        )
        phones = iter(range(10**9))

        def edit_once():
            household = Household.get_by_id(rng.choice(hids))
            editing.update(
                household,
                household.version,
                {"contact_phone": f"044{next(phones):07d}"},
                household_id=household.id,
                action="household.update",
                actor=staff,
            )

        results.append(("inline save (versioned update + audit)", f"{_rate(edit_once, 300):,.0f} saves/s"))

        # The yearly rent run at the city's size: every household's rent for the next fiscal year
        # (computed and recorded batch by batch), then its approval (decisions, certifications, flags).
        from services import rent_run

        officer = User.create(login_id="bench-officer", display_name="ベンチ 課長", role="officer")
        run = rent_run.start(rent_run.next_fiscal_year(), staff)
        started = time.perf_counter()
        run = rent_run.compute_pending(run)
        seconds = time.perf_counter() - started
        results.append(
            (
                "rent run: compute and record drafts",
                f"{run.households_done / seconds:,.0f} households/s ({run.households_done:,} in {seconds:.1f} s, "
                f"{rent_run.problem_count(run):,} problems)",
            )
        )
        drafts = rent_run.summary(run).drafts
        started = time.perf_counter()
        run = rent_run.approve_pending(rent_run.begin_approval(run, officer))
        seconds = time.perf_counter() - started
        results.append(
            (
                "rent run: approve (decisions, certifications, flags)",
                f"{drafts / seconds:,.0f} households/s ({drafts:,} in {seconds:.1f} s)",
            )
        )

        blob, key_id = keyring.encrypt("123456789018", table="personal_number", column="ciphertext", row_id=1)
        results.append(
            (
                "vault encrypt",
                f"{_rate(lambda: keyring.encrypt('123456789018', table='personal_number', column='ciphertext', row_id=1), 20_000):,.0f} /s",
            )
        )
        results.append(
            (
                "vault decrypt",
                f"{_rate(lambda: keyring.decrypt(blob, key_id, table='personal_number', column='ciphertext', row_id=1), 20_000):,.0f} /s",
            )
        )

    client = app.test_client()
    results.append(
        ("GET /healthz (test client)", f"{_rate(lambda: client.get('/healthz'), 500):,.0f} requests/s")
    )
    results.append(
        (
            "GET /login (test client, rendered page)",
            f"{_rate(lambda: client.get('/login'), 300):,.0f} requests/s",
        )
    )

    width = max(len(name) for name, _ in results)
    print(f"benchmark in {work}")
    for name, value in results:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
