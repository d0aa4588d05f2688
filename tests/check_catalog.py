"""Catalogue check (`python -m tests.check_catalog`): no fuzzy entry, no empty msgstr, placeholders intact."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ("ja", "en")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str, path: Path | None = None):
    """The parsed catalogue of locale."""
    with (path or po_path(locale)).open("rb") as handle:
        return read_po(handle, locale=locale)


def problems(locale: str, path: Path | None = None) -> list[str]:
    """Every reason the catalogue of locale (or the .po file at path) is not ready to ship, one line each."""
    path = path or po_path(locale)
    if not path.exists():
        return [f"{path}: missing (run `make translations`)"]
    catalog = load(locale, path)
    found = []
    if catalog.fuzzy:
        found.append(
            f"{locale}: the catalogue header is missing or marked fuzzy (pybabel compile would skip the whole file)"
        )
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        where = f"{locale}: msgid {msgid!r}"
        if message.fuzzy:
            found.append(f"{where} is fuzzy (check the translation, then remove the '#, fuzzy' line)")
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(s and s.strip() for s in strings):
            found.append(f"{where} has an empty msgstr")
    for message, errors in catalog.check():
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        for error in errors:
            found.append(f"{locale}: msgid {msgid!r}: {error}")
    return found


def compile_if_stale() -> None:
    """Write messages.mo beside each messages.po that is newer (tests need them; *.mo is not committed)."""
    for locale in LOCALES:
        po = po_path(locale)
        mo = po.with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            catalog = load(locale)
            with mo.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)


def main() -> int:
    found = [line for locale in LOCALES for line in problems(locale)]
    if found:
        print("Translation catalogues are not complete:", file=sys.stderr)
        for line in found:
            print(f"  - {line}", file=sys.stderr)
        print(
            "Fill the msgstr (ja: the Japanese source itself; en: the English), remove fuzzy flags, "
            "then run `make catalog` again.",
            file=sys.stderr,
        )
        return 1
    print("Translation catalogues complete: " + ", ".join(LOCALES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
