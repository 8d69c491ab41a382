"""Checking uploaded files at the door: names, sizes, types by content (never by the name alone).

    accepted, refused = check_pdfs([(filename, data), ...], limits)
    refusal = check_csv(filename, data, limits)      # None when it reads as a table

A refused file is named with its reason ("larger than 20 MB", "not a PDF") and the others go on:
nothing else of the form is lost. Pure functions; the routes read the files with `read_capped`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from litestar.datastructures import UploadFile

from app.core.config import Settings
from app.steps.pdf_text import looks_like_pdf
from app.steps.tables import (
    SAMPLE_BYTES,
    NotTabular,
    check_structure,
    detect_delimiter,
    detect_encoding,
    text_sample,
)

MAX_DOCUMENTS = 50
MB = 1024 * 1024
NAME_CHARS = 120

# Other formats people upload by mistake, told by their first bytes.
SIGNATURES = (
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a ZIP or Excel (.xlsx) file"),
    (b"\xd0\xcf\x11\xe0", "an Excel (.xls) or Word file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3", "an SQLite database"),
)


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_file: int  # bytes
    max_total: int
    max_csv: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            MAX_DOCUMENTS,
            settings.doc_max_file_mb * MB,
            settings.doc_max_total_mb * MB,
            settings.csv_max_mb * MB,
        )

    @property
    def documents_body(self) -> int:
        """The request cap: the total, one more file (so the one crossing the total is named), forms."""
        return self.max_total + self.max_file + MB

    @property
    def csv_body(self) -> int:
        return self.max_csv + MB


@dataclass(frozen=True)
class Accepted:
    name: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


def display_name(raw: str | None, default: str = "document") -> str:
    """A file name fit to show and to cite: the last path part, printable, no brackets (citations
    are written [name p.N]), at most 120 characters with its extension kept."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    )
    name = re.sub(r"[\[\]<>\"|?*:]", "_", name)
    name = " ".join(name.split()).strip(". ") or default
    if len(name) > NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot else ""
        name = stem[: NAME_CHARS - len(ext) - 2].rstrip() + "…" + (f".{ext}" if ext else "")
    return name


def unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name.lower(), 0) + 1
        seen[name.lower()] = n
        if n > 1:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"
        out.append(name)
    return out


def mb(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{max(1, size // 1024)} KB"


async def read_capped(upload: UploadFile, cap: int) -> bytes:
    """At most cap + 1 bytes: enough to know a file is too large without holding all of it."""
    return await upload.read(cap + 1)


def kind_of(data: bytes) -> str | None:
    head = data[:1024]
    return next(
        (
            what
            for sig, what in SIGNATURES
            if head.startswith(sig) or (sig == b"%PDF-" and looks_like_pdf(head))
        ),
        None,
    )


def check_pdfs(
    files: list[tuple[str, bytes]], limits: Limits
) -> tuple[list[Accepted], list[Refused]]:
    accepted: list[Accepted] = []
    refused: list[Refused] = []
    total = 0
    for name, data in zip(
        unique([display_name(n) for n, _ in files]), [d for _, d in files], strict=True
    ):
        if not data:
            refused.append(Refused(name, "the file is empty"))
        elif len(data) > limits.max_file:
            refused.append(Refused(name, f"larger than {mb(limits.max_file)} (the limit per file)"))
        elif not looks_like_pdf(data[:1024]):
            other = kind_of(data)
            refused.append(
                Refused(
                    name, f"not a PDF ({other})" if other else "not a PDF (its content is not PDF)"
                )
            )
        elif len(accepted) >= limits.max_files:
            refused.append(
                Refused(
                    name,
                    f"more than {limits.max_files} files: only the first {limits.max_files} are read",
                )
            )
        elif total + len(data) > limits.max_total:
            refused.append(
                Refused(name, f"over the {mb(limits.max_total)} limit for all files together")
            )
        else:
            total += len(data)
            accepted.append(Accepted(name, data))
    return accepted, refused


def check_csv(name: str, data: bytes, limits: Limits) -> Refused | None:
    """A quick look at the start of the file; the run reads all of it (and may still refuse it)."""
    if not data.strip():
        return Refused(name, "the file is empty")
    if len(data) > limits.max_csv:
        return Refused(name, f"larger than {mb(limits.max_csv)} (the limit for a CSV)")
    other = kind_of(data)
    if other:
        return Refused(name, f"this is {other}, not a CSV: export the table as CSV and upload that")
    try:
        sample = data[:SAMPLE_BYTES]
        text = text_sample(sample, detect_encoding(sample))
        check_structure(text, detect_delimiter(text))
    except NotTabular as exc:
        return Refused(name, str(exc))
    except (UnicodeDecodeError, LookupError):
        return Refused(name, "the file is not text in an encoding Baton recognises")
    return None
