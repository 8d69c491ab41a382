"""PDF fixtures written in the tests (fpdf2 for text and images, pypdf for encryption)."""

from __future__ import annotations

import io
import struct
import zlib

from fpdf import FPDF

WORDS = [
    "revenue",
    "growth",
    "margin",
    "risk",
    "supply",
    "chain",
    "energy",
    "policy",
    "customers",
    "product",
    "market",
    "regulation",
    "forecast",
    "quarter",
    "cost",
    "capital",
    "labour",
    "demand",
]


def text_pdf(title: str, pages: int = 3, words_per_page: int = 120) -> bytes:
    """A text PDF whose page N says "<title> page N." first, then filler words."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for n in range(1, pages + 1):
        pdf.add_page()
        filler = " ".join(WORDS[(n * 7 + i) % len(WORDS)] for i in range(words_per_page))
        pdf.multi_cell(
            0, 6, f"{title} page {n}. This page discusses {WORDS[n % len(WORDS)]}. {filler}."
        )
    return bytes(pdf.output())


def _png(width: int = 40, height: int = 20) -> bytes:
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 6 % 256, 90, 160)) for x in range(width))
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def image_only_pdf(pages: int = 2) -> bytes:
    """Pages that hold only a picture: no text layer (like a scan)."""
    pdf = FPDF()
    image = io.BytesIO(_png())
    for _ in range(pages):
        pdf.add_page()
        image.seek(0)
        pdf.image(image, x=20, y=20, w=160)
    return bytes(pdf.output())


def encrypted_pdf(password: str = "secret") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(text_pdf("Locked", pages=1)))
    writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    """The signature of a PDF, then garbage."""
    return b"%PDF-1.7\n" + bytes((i * 37) % 251 for i in range(4000)) + b"\n%%EOF\n"
