"""Text out of PDFs (pypdf), page by page, and the page-cited text a model is given.

    result = extract_pdf_text(data)          # PdfText(status, pages, message); never raises
    text = cited_text("report.pdf", result.pages, budget=24_000)   # "[report.pdf p.3] …" blocks
    cites = find_citations(summary)          # [("report.pdf", 3), ...]

A document that cannot be read is a result, not an error: `status` is "ok", "no_text" (image-only
or scanned: no text layer), "encrypted" (needs a password) or "corrupt" (not a readable PDF), with
a sentence in `message`. CPU-bound and blocking: call it in a thread (pure Python, so one process
uses one core; run more workers to extract more at once).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field

MAX_PAGES = 2000  # a longer document is read up to here, and says so
MAX_CHARS = 3_000_000  # extracted text kept per document
MIN_TEXT_CHARS = 16  # less than this in the whole document counts as "no text layer"

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs warn on every page

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class PdfText:
    status: str
    pages: list[str] = field(default_factory=list)
    message: str = ""
    page_count: int = 0

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.pages)


def looks_like_pdf(head: bytes) -> bool:
    """The PDF signature within the first kilobyte (where readers accept it)."""
    return b"%PDF-" in head[:1024]


def clean_page(text: str) -> str:
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def extract_pdf_text(data: bytes) -> PdfText:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if not looks_like_pdf(data[:1024]):
        return PdfText("corrupt", message="Not a PDF file (no PDF signature).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt(
                    ""
                )  # encrypted for permissions only: readable without a password
            except (DependencyError, NotImplementedError):
                opened = 0
            if not opened:
                return PdfText(
                    "encrypted", message="Encrypted: the PDF needs a password to be read."
                )
        count = len(reader.pages)
    except FileNotDecryptedError:
        return PdfText("encrypted", message="Encrypted: the PDF needs a password to be read.")
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        RecursionError,
        OSError,
        AssertionError,
    ) as exc:
        return PdfText("corrupt", message=f"Corrupt: the PDF could not be read ({_short(exc)}).")
    except Exception as exc:  # pypdf raises many kinds on broken files; none may stop the run
        return PdfText("corrupt", message=f"Corrupt: the PDF could not be read ({_short(exc)}).")
    if count == 0:
        return PdfText("corrupt", message="Corrupt: the PDF has no pages.")
    pages, used, failed = [], 0, 0
    for number in range(min(count, MAX_PAGES)):
        try:
            text = clean_page(reader.pages[number].extract_text() or "")
        except Exception:
            text, failed = "", failed + 1
        if used + len(text) > MAX_CHARS:
            text = text[: max(0, MAX_CHARS - used)]
        used += len(text)
        pages.append(text)
    if sum(len(p) for p in pages) < MIN_TEXT_CHARS:
        if failed == len(pages):
            return PdfText("corrupt", message="Corrupt: no page could be read.", page_count=count)
        return PdfText(
            "no_text",
            message="No extractable text: the pages are images (a scan?). "
            "Text recognition (OCR) is not done.",
            page_count=count,
        )
    notes = []
    if count > MAX_PAGES:
        notes.append(f"only the first {MAX_PAGES:,} of {count:,} pages were read")
    if failed:
        notes.append(f"{failed} page{'s' if failed != 1 else ''} could not be read")
    if used >= MAX_CHARS:
        notes.append(f"text cut at {MAX_CHARS:,} characters")
    return PdfText(
        "ok", pages, ("; ".join(notes) + ".").capitalize() if notes else "", page_count=count
    )


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


# -- what the model reads ----------------------------------------------------------------------


def cite(name: str, page: int) -> str:
    return f"[{name} p.{page}]"


def cited_text(name: str, pages: list[str], budget: int = 24_000) -> str:
    """The document as page blocks, each headed by its citation, within `budget` characters:
    every page gets an equal share; when the shares would be too small to say anything, evenly
    spread pages are kept whole-ish instead (the model is told which pages it sees)."""
    numbered = [(i + 1, p) for i, p in enumerate(pages) if p.strip()]
    if not numbered:
        return ""
    min_share = 600
    if len(numbered) * min_share > budget:
        keep = max(1, budget // min_share)
        step = len(numbered) / keep
        numbered = [numbered[int(i * step)] for i in range(keep)]
    share = max(min_share, budget // len(numbered))
    blocks = []
    for number, text in numbered:
        body = text if len(text) <= share else text[:share].rsplit(" ", 1)[0] + " …"
        blocks.append(f"{cite(name, number)}\n{body}")
    return "\n\n".join(blocks)


_CITATION = re.compile(
    r"\[([^\[\]\n]{1,200}?)\s+p(?:p|age)?\.?\s*(\d{1,5})(?:\s*[-–]\s*(\d{1,5}))?\]"
)


def find_citations(text: str) -> list[tuple[str, int]]:
    """Every [name p.N] (or p.N–M: its first page) in the text, in order."""
    return [(m.group(1).strip(), int(m.group(2))) for m in _CITATION.finditer(text or "")]


def check_citations(
    text: str, documents: dict[str, int]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(valid, unknown) citations of `text`, given {document name: page count}."""
    valid, unknown = [], []
    for name, page in find_citations(text):
        (valid if name in documents and 1 <= page <= documents[name] else unknown).append(
            (name, page)
        )
    return valid, unknown


def with_source(summary: str, name: str, pages: list[str]) -> str:
    """The summary, with a source line added when the model cited none of this document's pages."""
    own = [c for c in find_citations(summary) if c[0] == name and 1 <= c[1] <= len(pages)]
    if own:
        return summary
    with_text = [i + 1 for i, p in enumerate(pages) if p.strip()] or [1]
    span = f"p.{with_text[0]}" if len(with_text) == 1 else f"p.{with_text[0]}–{with_text[-1]}"
    return f"{summary.rstrip()}\n\nSource: [{name} {span}]"
