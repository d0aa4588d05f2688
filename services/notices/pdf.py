"""The layout of a notice run: A4, a page per household (continued when long), for a window envelope.

Fonts: BIZ UDMincho (body) and BIZ UDGothic Bold (titles, headings), TrueType from Debian's
fonts-morisawa-bizud-* packages (SIL OFL, fonts/OFL.txt), embedded as subsets. reportlab embeds only
TrueType outlines, so the CFF-based Noto CJK fonts would not do.

The first page of each notice (measurements from the sheet's top-left corner, in mm):

- top right: the document number and the 和暦 date of issue, the sender (川崎市長) below them;
- the addressee block at x 25-105, y 17-55: 〒 with hyphen, address (up to three lines), name 様 and
  the household number in small type. A4 folded in three (the top panel 99 mm high) goes into a
  長形3号 window envelope (120 × 235 mm, used landscape) whose window is 90 × 45 mm at 23 mm from the
  left and 13 mm from the top; the block keeps 2-4 mm inside the window on every side so that the
  sheet's play in the envelope never hides a line, and nothing else prints in that area;
- the office to contact (所管課, address, phone) right-aligned below the window, above the first fold;
- the title, centred, then the body in a frame that continues on further pages.

A continuation page repeats the name and the document number at its top; every page of a notice
longer than one page says "n / N" at its foot (a PDF form filled in when the notice ends, so a run is
laid out in one pass however many notices it holds).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Paragraph as RLParagraph
from reportlab.platypus import Table as RLTable

from rules.formatting import postal
from rules.wareki import to_wareki
from services.notices.blocks import Grid, Note, NoticePage, Paragraph, Steps, Table

FONTS = Path(__file__).resolve().parent / "fonts"
MINCHO = "BIZUDMincho"
GOTHIC = "BIZUDGothic-Bold"

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 20 * mm
RIGHT = PAGE_WIDTH - 20 * mm
BOTTOM = 18 * mm

# The window of a 長形3号 envelope, seen on the sheet (see the module docstring).
WINDOW_X, WINDOW_Y, WINDOW_W, WINDOW_H = 23 * mm, 13 * mm, 90 * mm, 45 * mm
ADDRESS_X, ADDRESS_TOP, ADDRESS_W, ADDRESS_BOTTOM = 25 * mm, 17 * mm, 80 * mm, 55 * mm
FIRST_FRAME_TOP = 88 * mm  # the body of a first page starts below the header (and near the first fold)
NEXT_FRAME_TOP = 24 * mm
HEADING_ROOM = 28 * mm  # a heading starts a new page unless this much room is left (itself and a few rows)

INK = colors.black
RULE = colors.Color(0.35, 0.35, 0.35)
SHADE = colors.Color(0.92, 0.92, 0.92)

_register_lock = threading.Lock()
_render_lock = threading.Lock()
_FIGURE = re.compile(r"[△▲\-−]?[0-9０-９][0-9０-９,，.]*\s*(円|人|件|か月|ヶ月|月|年|歳|㎡|%|％|倍)?")
_HONORIFICS = ("様", "殿", "御中")


def register_fonts() -> None:
    """Register the two TrueType fonts with reportlab once per process (loading them takes a moment)."""
    with _register_lock:
        registered = pdfmetrics.getRegisteredFontNames()
        if MINCHO not in registered:
            pdfmetrics.registerFont(TTFont(MINCHO, str(FONTS / "BIZUDMincho-Regular.ttf")))
        if GOTHIC not in registered:
            pdfmetrics.registerFont(TTFont(GOTHIC, str(FONTS / "BIZUDGothic-Bold.ttf")))


@dataclass(frozen=True)
class Sender:
    """Who issues the notices and where to ask (from the configuration)."""

    name: str  # 川崎市長
    office: str  # 川崎市 まちづくり局住宅政策部市営住宅管理課
    postal_code: str | None
    address: str
    phone: str


@dataclass(frozen=True)
class Sheet:
    """One notice as printed: its page, its document number and the household number beside the name."""

    page: NoticePage
    document_no: str
    reference: str | None = None


# --- text helpers ---------------------------------------------------------------------------------------


def _markup(text: str) -> str:
    """Plain text as reportlab paragraph markup: escaped, line breaks kept."""
    return "<br/>".join(escape(line) for line in str(text).splitlines() or [""])


def with_honorific(name: str) -> str:
    """The name as printed in the window: 様 added when no honorific ends it."""
    name = name.strip()
    return name if name.endswith(_HONORIFICS) else f"{name} 様"


def address_lines(address: str, font: str, size: float, width: float, max_lines: int = 3) -> list[str]:
    """The address in at most max_lines lines: a line break or an ideographic space (before the
    building and room, 方書) starts a new line when that still fits, otherwise it wraps as one text."""
    parts = [part for part in re.split(r"[\n\u3000]+", address.strip()) if part]
    lines = [line for part in parts for line in wrap(part, font, size, width, max_lines)]
    return lines if len(lines) <= max_lines else wrap("\u3000".join(parts), font, size, width, max_lines)


def wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """text cut into lines no wider than width (character by character, as Japanese wraps)."""
    lines, current = [], ""
    for char in text.strip():
        if pdfmetrics.stringWidth(current + char, font, size) > width and current:
            lines.append(current)
            current = char.lstrip() if char == " " or char == "\u3000" else char
        else:
            current += char
    if current:
        lines.append(current)
    if len(lines) > max_lines:  # never print past the window: the last line ends with an ellipsis
        last = lines[max_lines - 1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last + "…"]
    return lines


# --- styles ---------------------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK", firstLineIndent=10.5, spaceAfter=4
    )
    return {
        "title": ParagraphStyle(
            "title",
            fontName=GOTHIC,
            fontSize=16,
            leading=22,
            alignment=TA_CENTER,
            spaceAfter=12,
            wordWrap="CJK",
        ),
        "body": body,
        "heading": ParagraphStyle(
            "heading", fontName=GOTHIC, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4, wordWrap="CJK"
        ),
        "cell": ParagraphStyle("cell", fontName=MINCHO, fontSize=10, leading=14, wordWrap="CJK"),
        "cell_right": ParagraphStyle(
            "cell_right", fontName=MINCHO, fontSize=10, leading=14, wordWrap="CJK", alignment=TA_RIGHT
        ),
        "cell_head": ParagraphStyle(
            "cell_head", fontName=GOTHIC, fontSize=9.5, leading=13, wordWrap="CJK", alignment=TA_CENTER
        ),
        "label": ParagraphStyle("label", fontName=MINCHO, fontSize=10, leading=14, wordWrap="CJK"),
        "step": ParagraphStyle("step", fontName=MINCHO, fontSize=10, leading=15, wordWrap="CJK"),
        "note": ParagraphStyle(
            "note",
            fontName=MINCHO,
            fontSize=9,
            leading=13.5,
            wordWrap="CJK",
            leftIndent=9,
            firstLineIndent=-9,
            spaceBefore=2,
            spaceAfter=2,
            alignment=TA_LEFT,
        ),
    }


# --- blocks → flowables ---------------------------------------------------------------------------------


def _is_figure(text: str) -> bool:
    return bool(_FIGURE.fullmatch(text.strip())) if text.strip() else False


def _table(block: Table, styles) -> list:
    header = list(block.header or ())
    rows = [[str(cell) if cell is not None else "" for cell in row] for row in block.rows]
    columns = max([len(header)] + [len(row) for row in rows] + [1])
    width = RIGHT - LEFT
    widths = [width * 0.36, width * 0.64] if columns == 2 and not header else [width / columns] * columns
    data = []
    if header:
        data.append(
            [
                RLParagraph(_markup(text), styles["cell_head"])
                for text in header + [""] * (columns - len(header))
            ]
        )
    for row in rows:
        cells = row + [""] * (columns - len(row))
        line = []
        for index, text in enumerate(cells):
            if index == 0 and columns == 2 and not header:
                style = styles["label"]
            else:
                style = styles["cell_right"] if _is_figure(text) else styles["cell"]
            line.append(RLParagraph(_markup(text), style))
        data.append(line)
    table = RLTable(data, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("BOX", (0, 0), (-1, -1), 0.8, INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    elif columns == 2:
        commands.append(("BACKGROUND", (0, 0), (0, -1), SHADE))
    table.setStyle(TableStyle(commands))
    flowables = [RLParagraph(_markup(block.heading), styles["heading"])] if block.heading else []
    return [*flowables, table, Spacer(1, 6)]


_ALIGNMENTS = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}


def _grid(block: Grid, styles) -> list:
    """A form grid: relative column widths, rows with room to write, per-column alignment."""
    header = [str(text) for text in block.header]
    columns = len(header)
    shares = list(block.widths or [1] * columns)[:columns]
    shares += [1] * (columns - len(shares))
    total = sum(shares) or 1
    widths = [(RIGHT - LEFT) * share / total for share in shares]
    align = list(block.align or [])[:columns]
    align += ["left"] * (columns - len(align))
    cell_styles = [
        ParagraphStyle(f"grid_{index}", parent=styles["cell"], alignment=_ALIGNMENTS.get(name, TA_LEFT))
        for index, name in enumerate(align)
    ]
    data = [[RLParagraph(_markup(text), styles["cell_head"]) for text in header]]
    for row in block.rows:
        cells = [str(cell) if cell is not None else "" for cell in row][:columns]
        cells += [""] * (columns - len(cells))
        data.append([RLParagraph(_markup(text), cell_styles[index]) for index, text in enumerate(cells)])
    heights = [None] + [block.row_height * mm if block.row_height else None] * len(block.rows)
    table = RLTable(data, colWidths=widths, rowHeights=heights, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, RULE),
                ("BOX", (0, 0), (-1, -1), 0.8, INK),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ]
        )
    )
    flowables = [RLParagraph(_markup(block.heading), styles["heading"])] if block.heading else []
    return [*flowables, table, Spacer(1, 4)]


def _steps(block: Steps, styles) -> list:
    data = [
        [RLParagraph(f"({number})", styles["step"]), RLParagraph(_markup(line), styles["step"])]
        for number, line in enumerate(block.lines, start=1)
    ]
    if not data:
        return []
    table = RLTable(data, colWidths=[11 * mm, RIGHT - LEFT - 11 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, 0), 6),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    flowables = [RLParagraph(_markup(block.heading), styles["heading"])] if block.heading else []
    return [*flowables, table, Spacer(1, 6)]


def _flowables(page: NoticePage, styles) -> list:
    story = [RLParagraph(_markup(page.title), styles["title"])]
    for block in page.blocks:
        if isinstance(block, Paragraph):  # each line a paragraph of its own, indented
            story += [RLParagraph(_markup(line), styles["body"]) for line in block.text.strip().splitlines()]
        elif isinstance(block, Table | Steps):
            # A heading never stays alone at the foot of a page: it moves on with the first rows.
            story += [CondPageBreak(HEADING_ROOM)] if block.heading else []
            story += _table(block, styles) if isinstance(block, Table) else _steps(block, styles)
        elif isinstance(block, Grid):
            story += [CondPageBreak(HEADING_ROOM)] if block.heading else []
            story += _grid(block, styles)
        elif isinstance(block, Note):
            text = block.text.strip()
            story.append(RLParagraph(_markup(text if text.startswith("※") else f"※{text}"), styles["note"]))
        else:
            raise TypeError(f"a notice block is Paragraph, Table, Steps or Note, not {type(block).__name__}")
    return story


# --- the document ---------------------------------------------------------------------------------------


class _Start(Flowable):
    """Zero-size marker at the head of each notice: tells the page decorations which notice is on."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.width = self.height = 0

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv._doctemplate.begin_notice(self.index)


class _End(Flowable):
    """Zero-size marker at the end of the run: closes the last notice's page count."""

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv._doctemplate.end_notice()


class _RunDocument(BaseDocTemplate):
    """The run's document: first-page and continuation templates, header and footer per notice."""

    def __init__(self, target, sheets: Sequence[Sheet], sender: Sender, issued_on, report, **kw):
        super().__init__(target, pagesize=A4, **kw)
        self.sheets = sheets
        self.sender = sender
        self.issued_on = issued_on
        self.report = report
        self.current: int | None = None
        self.notice_pages: list[int] = []  # the current notice's page numbers
        self.first_pages: list[int] = [0] * len(sheets)
        width = RIGHT - LEFT
        first = Frame(LEFT, BOTTOM, width, PAGE_HEIGHT - FIRST_FRAME_TOP - BOTTOM, id="first", showBoundary=0)
        following = Frame(
            LEFT, BOTTOM, width, PAGE_HEIGHT - NEXT_FRAME_TOP - BOTTOM, id="next", showBoundary=0
        )
        self.addPageTemplates(
            [
                PageTemplate("first", [first], onPageEnd=self._decorate_first, autoNextPageTemplate="next"),
                PageTemplate("next", [following], onPage=self._continue, onPageEnd=self._decorate_next),
            ]
        )

    # notices begin and end
    def begin_notice(self, index: int) -> None:
        self.end_notice()
        self.current = index
        self.first_pages[index] = self.canv.getPageNumber()
        self.notice_pages = [self.first_pages[index]]
        if self.report is not None:
            self.report(index, len(self.sheets))

    def end_notice(self) -> None:
        """Fill in the "n / N" footers of the notice just finished (blank for a one-page notice)."""
        if self.current is None or not self.notice_pages:
            return
        total = len(self.notice_pages)
        canvas = self.canv
        for number, page in enumerate(self.notice_pages, start=1):
            canvas.beginForm(f"foot{page}")
            if total > 1:
                canvas.setFont(MINCHO, 9)
                canvas.drawCentredString(PAGE_WIDTH / 2, 10 * mm, f"{number} / {total}")
            canvas.endForm()
        self.notice_pages = []  # the decorations of the page still being drawn keep self.current

    # page decorations
    def _continue(self, canvas, doc) -> None:
        self.notice_pages.append(canvas.getPageNumber())

    def _footer(self, canvas) -> None:
        canvas.doForm(f"foot{canvas.getPageNumber()}")

    def _decorate_first(self, canvas, doc) -> None:
        sheet = self.sheets[self.current]
        canvas.saveState()
        self._number_and_date(canvas, sheet)
        self._addressee(canvas, sheet)
        self._office(canvas)
        self._footer(canvas)
        canvas.restoreState()

    def _decorate_next(self, canvas, doc) -> None:
        sheet = self.sheets[self.current]
        canvas.saveState()
        canvas.setFont(MINCHO, 9)
        top = PAGE_HEIGHT - 14 * mm
        canvas.drawString(LEFT, top, with_honorific(sheet.page.addressee.name))
        canvas.drawRightString(RIGHT, top, f"{sheet.document_no}（続き）")
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(LEFT, top - 2.5 * mm, RIGHT, top - 2.5 * mm)
        self._footer(canvas)
        canvas.restoreState()

    def _number_and_date(self, canvas, sheet: Sheet) -> None:
        canvas.setFont(MINCHO, 10.5)
        canvas.drawRightString(RIGHT, PAGE_HEIGHT - 15 * mm, sheet.document_no)
        canvas.drawRightString(RIGHT, PAGE_HEIGHT - 21 * mm, to_wareki(self.issued_on))
        canvas.setFont(MINCHO, 12)
        canvas.drawRightString(RIGHT - 4 * mm, PAGE_HEIGHT - 33 * mm, self.sender.name)

    def _addressee(self, canvas, sheet: Sheet) -> None:
        addressee = sheet.page.addressee
        y = PAGE_HEIGHT - ADDRESS_TOP - 4 * mm
        canvas.setFont(MINCHO, 10.5)
        code = _postal_or_blank(addressee.postal_code)
        if code:
            canvas.drawString(ADDRESS_X, y, code)
        y -= 6 * mm
        canvas.setFont(MINCHO, 11)
        for line in address_lines(addressee.address, MINCHO, 11, ADDRESS_W):
            canvas.drawString(ADDRESS_X, y, line)
            y -= 5.2 * mm
        y -= 3.5 * mm
        size = 14
        name = with_honorific(addressee.name)
        while size > 9 and pdfmetrics.stringWidth(name, MINCHO, size) > ADDRESS_W - 4 * mm:
            size -= 0.5
        canvas.setFont(MINCHO, size)
        canvas.drawString(ADDRESS_X + 4 * mm, y, name)
        if sheet.reference:
            canvas.setFont(MINCHO, 8)
            canvas.drawString(
                ADDRESS_X + 4 * mm, max(y - 5.5 * mm, PAGE_HEIGHT - ADDRESS_BOTTOM), sheet.reference
            )

    def _office(self, canvas) -> None:
        sender = self.sender
        lines = [f"（問合せ先）{sender.office}"]
        lines.append(
            " ".join(part for part in (_postal_or_blank(sender.postal_code), sender.address) if part)
        )
        lines.append(f"電話 {sender.phone}")
        canvas.setFont(MINCHO, 9)
        y = PAGE_HEIGHT - 64 * mm
        width = max(pdfmetrics.stringWidth(line, MINCHO, 9) for line in lines)
        x = RIGHT - width
        for line in lines:
            canvas.drawString(x, y, line)
            y -= 4.6 * mm


def _postal_or_blank(code: str | None) -> str:
    try:
        return postal(code)
    except ValueError:
        return code or ""


def render(
    target,
    sheets: Sequence[Sheet],
    *,
    sender: Sender,
    issued_on,
    title: str,
    report: Callable[[int, int], None] | None = None,
) -> tuple[int, list[int]]:
    """Lay out sheets into one PDF written to target (a path or a binary file).

    Returns the number of pages and each sheet's first page. report(done, total) is called as each
    notice starts. title goes into the PDF's metadata (the kind of notice, never a name).
    """
    register_fonts()
    with _render_lock:  # reportlab keeps per-font state across documents: one layout at a time
        return _render(target, sheets, sender, issued_on, title, report)


def _render(target, sheets, sender, issued_on, title, report) -> tuple[int, list[int]]:
    styles = _styles()
    document = _RunDocument(
        target,
        sheets,
        sender,
        issued_on,
        report,
        title=title,
        author=sender.office,
        creator="市営住宅管理システム",
        subject=title,
        leftMargin=LEFT,
        rightMargin=PAGE_WIDTH - RIGHT,
        topMargin=NEXT_FRAME_TOP,
        bottomMargin=BOTTOM,
    )
    story: list = []
    for index, sheet in enumerate(sheets):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
        story.append(_Start(index))
        story += _flowables(sheet.page, styles)
    story.append(_End())
    document.build(story)
    if report is not None:
        report(len(sheets), len(sheets))
    return document.page, document.first_pages
