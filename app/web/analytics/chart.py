"""Runs per day as bar geometry for an SVG drawn by a template (no chart library, no JS)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 36, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    show_label: bool


def nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above value (a readable top of the axis)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def bars(per_day: list[dict]) -> dict:
    top = nice_max(max((d["runs"] for d in per_day), default=0) or 1)
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(per_day), 1)
    every = max(1, round(len(per_day) / 10))  # at most ~10 date labels
    out = []
    for i, day in enumerate(per_day):
        h = plot_h * day["runs"] / top
        out.append(
            Bar(
                x=PAD_LEFT + i * slot + slot * 0.15,
                y=PAD_TOP + plot_h - h,
                width=slot * 0.7,
                height=h,
                value=day["runs"],
                label=day["day"].strftime("%b %d"),
                show_label=i % every == 0,
            )
        )
    return {
        "bars": out,
        "top": top,
        "width": WIDTH,
        "height": HEIGHT,
        "pad_left": PAD_LEFT,
        "baseline": HEIGHT - PAD_BOTTOM,
        "pad_top": PAD_TOP,
    }
