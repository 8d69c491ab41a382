"""A CSV file as a table: detect its encoding, delimiter and shape, load it into DuckDB, profile it,
draw its overview charts, and keep it as Parquet for the later steps.

    table = load_csv(data, work_dir)        # NotTabular with a sentence for a file that is no table
    table.parquet                           # the loaded table, for later steps (an artifact)
    table.profile                           # rows, columns, types, missing, duplicates, stats, correlations

The detection functions are also the upload checks of the web (app/web/uploads/files.py).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from app.steps.tables.database import TABLE, connect, duck_message
from app.steps.tables.overview import overview_charts
from app.steps.tables.profile import profile_table

SAMPLE_BYTES = 1_000_000
CHECK_ROWS = 500


class NotTabular(Exception):
    """The file cannot be read as a table; the message says why, for the person who uploaded it."""


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        odd, even = sample[1::2], sample[0::2]
        if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
        raise NotTabular("This is a binary file, not a CSV (it contains NUL bytes).")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(sample[:200_000]))
    if not matches:
        raise NotTabular(
            "The file is not text in any encoding Baton recognises: is it really a CSV?"
        )
    best = min((m.chaos, -m.coherence) for m in matches)
    tied = [m.encoding for m in matches if (m.chaos, -m.coherence) == best]
    encoding = "cp1252" if "cp1252" in tied else tied[0]  # Western European wins a tie
    if min(m.chaos for m in matches) > 0.3:
        raise NotTabular(
            "The file does not read as text in any encoding (too many unprintable characters)."
        )
    return encoding


def text_sample(sample: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    controls = sum(1 for ch in text[:100_000] if ch < " " and ch not in "\t\r\n")
    if controls > max(5, len(text[:100_000]) // 200):
        raise NotTabular(
            "This looks like a binary file, not a CSV (it is full of control characters)."
        )
    return text


def detect_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines[:30]), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    best, best_score = ",", 0.0
    for d in (",", ";", "\t", "|"):
        counts = [ln.count(d) for ln in lines]
        if counts and counts[0] > 0:
            score = sum(1 for c in counts if c == counts[0]) / len(counts) * (1 + counts[0] / 100)
            if score > best_score:
                best, best_score = d, score
    return best


def check_structure(text: str, delimiter: str) -> int:
    """The header's field count, after checking that the sample reads as one consistent table."""
    lines = text.splitlines()
    if len(text) >= SAMPLE_BYTES // 2 and lines:
        lines = lines[:-1]  # the sample may end mid-line
    rows = [
        r
        for r in csv.reader(io.StringIO("\n".join(lines[: CHECK_ROWS + 1])), delimiter=delimiter)
        if r
    ]
    if not rows:
        raise NotTabular("The file is empty.")
    if len(rows) < 2:
        raise NotTabular("The file has a header line but no rows of data.")
    width = len(rows[0])
    if width == 1 and (len(rows[0][0]) > 80 or sum(len(r[0]) for r in rows) / len(rows) > 120):
        raise NotTabular("No column separator found: this looks like running text, not a table.")
    off = [i + 1 for i, r in enumerate(rows) if len(r) != width]
    if len(off) > max(2, len(rows) // 10):
        where = ", ".join(str(n) for n in off[:3])
        raise NotTabular(
            f"Not a consistent table: lines {where} … have a different number of fields "
            f"than the header ({width})."
        )
    return width


@dataclass
class LoadedTable:
    parquet: Path
    profile: dict
    charts: list[dict] = field(default_factory=list)  # [{title, svg}]


def write_utf8(data: bytes, encoding: str, path: Path) -> None:
    """The file as UTF-8 on disk, decoded in chunks (a 100 MB file never sits in memory twice)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "w", encoding="utf-8", newline="") as out:
        view = memoryview(data)
        chunk = 4 * 1024 * 1024
        try:
            for start in range(0, len(view), chunk):
                out.write(
                    decoder.decode(view[start : start + chunk], final=start + chunk >= len(view))
                )
        except UnicodeDecodeError as exc:
            raise NotTabular(
                f"The file is not valid {encoding} text (a bad byte near byte "
                f"{start + exc.start:,}); save it as UTF-8 and upload it again."
            ) from None


def load_csv(data: bytes, work_dir: Path) -> LoadedTable:
    if not data.strip():
        raise NotTabular("The file is empty.")
    sample = data[:SAMPLE_BYTES]
    encoding = detect_encoding(sample)
    text = text_sample(sample, encoding)
    delimiter = detect_delimiter(text)
    check_structure(text, delimiter)
    csv_path, parquet = work_dir / "table.csv", work_dir / "table.parquet"
    write_utf8(data, encoding, csv_path)
    import duckdb

    con = connect(work_dir)
    try:
        try:
            con.execute(
                f"CREATE TABLE {TABLE} AS SELECT * FROM read_csv(?, delim = ?, header = true, quote = '\"', "
                "escape = '\"', sample_size = 100000)",
                [str(csv_path), delimiter],
            )
        except duckdb.Error as exc:
            raise NotTabular(
                "The file could not be read as a table: " + duck_message(exc)
            ) from None
        profile = profile_table(con)
        profile.update(
            encoding=encoding.replace("-sig", "").upper().replace("_", "-"),
            delimiter={",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter],
        )
        con.execute(f"COPY {TABLE} TO '{parquet.as_posix()}' (FORMAT parquet, COMPRESSION zstd)")
        charts = overview_charts(con, profile)
    finally:
        con.close()
    csv_path.unlink(missing_ok=True)
    return LoadedTable(parquet, profile, charts)
