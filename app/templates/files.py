"""A template run's uploaded files as text for its blocks: `inputs.<name>.text` (one file) or each entry's
`.text` (several), read once by a journaled step at the start of the run. PDFs through the documents
workflow's extractor (app/steps/pdf_text.py), other files as UTF-8 text."""

from __future__ import annotations

import asyncio
from typing import Any

from app.steps.pdf_text import clean_page, extract_pdf_text, looks_like_pdf
from app.steps.run_files import read_bytes

MAX_TEXT = 60_000  # characters kept per file (a prompt budget, not a storage limit)


def _as_text(data: bytes) -> str:
    if looks_like_pdf(data[:1024]):
        found = extract_pdf_text(data)
        return (
            "\n\n".join(found.pages) if found.pages else f"(no text could be read: {found.message})"
        )
    return clean_page(data.decode("utf-8", errors="replace"))


async def read_texts(owner_id: int, run_id: str, refs: list[dict]) -> list[dict[str, Any]]:
    out = []
    for ref in refs:
        data = await read_bytes(str(ref["artifact_id"]), owner_id=owner_id, run_id=run_id)
        text = await asyncio.to_thread(_as_text, data)
        out.append({**ref, "text": text[:MAX_TEXT]})
    return out
