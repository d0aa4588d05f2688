"""What a notice is made of: the addressee, the page of one household and the blocks of its body.

Plain values: the services that issue notices (the income-declaration cycle, the yearly rent run,
certifications, arrears) build them from their records; ``services.notices.pdf`` lays them out.
Texts are Japanese as printed (no markup: what a caller passes is printed as written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Addressee:
    """Whom the notice goes to, as printed in the envelope's window.

    postal_code: seven digits (any accepted spelling, or None); address: one line, wrapped to the
    window; name: as printed, honorific included (``address_of`` adds 様; a name without 様, 殿 or
    御中 gets 様 when printed).
    """

    postal_code: str | None
    address: str
    name: str


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the body, indented by one character; a line break in text starts a new paragraph."""

    text: str


@dataclass(frozen=True)
class Table:
    """A bordered table: rows of (label, value) pairs, or of any number of cells when header names columns.

    Figures (38,600円, 12人, 60.00㎡) are aligned right. A long table continues on the next page, its
    header repeated.
    """

    rows: Sequence[Sequence[object]]
    heading: str | None = None
    header: Sequence[str] | None = None


@dataclass(frozen=True)
class Steps:
    """A computation explained step by step: numbered lines ((1), (2) …) in a box."""

    lines: Sequence[str]
    heading: str | None = None


@dataclass(frozen=True)
class Note:
    """A note in smaller type (※ added unless the text starts with one)."""

    text: str


@dataclass(frozen=True)
class Grid:
    """A form to fill in: columns of given relative widths (header names them), rows at least row_height
    millimetres high (room to write), each column aligned "left", "center" or "right".

    For the forms people fill in by hand (収入申告書): a cell may be blank or hold a box (□) or a unit
    (円) set where the writing ends. widths default to equal columns, align to "left".
    """

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    heading: str | None = None
    widths: Sequence[float] | None = None
    align: Sequence[str] | None = None
    row_height: float | None = None


Block = Paragraph | Table | Steps | Note | Grid


@dataclass(frozen=True)
class NoticePage:
    """The notice to one household (or one person): a first page, continued on further pages if long.

    kind: a code of models.notices.NOTICE_KINDS; subject_table / subject_id: the record the notice is
    about (a rent_decision, a certification …), logged with the notice.
    """

    kind: str
    household_id: int | None
    addressee: Addressee
    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)
    person_id: int | None = None
    subject_table: str | None = None
    subject_id: int | None = None

    def texts(self):
        """Every text printed on this notice (for the My Number guard)."""
        yield from (self.addressee.postal_code or "", self.addressee.address, self.addressee.name, self.title)
        for block in self.blocks:
            if isinstance(block, Paragraph | Note):
                yield block.text
            elif isinstance(block, Steps):
                yield block.heading or ""
                yield from (str(line) for line in block.lines)
            elif isinstance(block, Table | Grid):
                yield block.heading or ""
                yield from (str(cell) for cell in block.header or ())
                yield from (str(cell) for row in block.rows for cell in row)
