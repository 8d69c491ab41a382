"""CSV fixtures written by code."""

from __future__ import annotations

import random


def sales_csv(
    rows: int = 300, *, encoding: str = "utf-8", delimiter: str = ",", seed: int = 7
) -> bytes:
    """Sales with a city (accented names), a price, a quantity, a date; some prices missing and the
    first two data rows repeated at the end (duplicates)."""
    rnd = random.Random(seed)
    cities = ["Zürich", "Genève", "Köln", "Málaga"]
    lines = [delimiter.join(["city", "price", "qty", "day"])]
    for i in range(rows):
        price = "" if i % 25 == 0 else f"{10 + (i % 4) * 5 + rnd.random():.2f}"
        lines.append(
            delimiter.join([cities[i % 4], price, str(1 + i % 9), f"2024-03-{1 + i % 28:02d}"])
        )
    lines += lines[1:3]
    return ("\n".join(lines) + "\n").encode(encoding)
