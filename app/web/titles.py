"""Titles made from what a person wrote: a conversation's (its first message) and a run's started
in the chat (its prompt or topic)."""

TITLE_MAX = 80


def title_from(text: str) -> str:
    """The first line of the first message, cut at a word near TITLE_MAX characters."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX:
        return line or "New chat"
    cut = line[:TITLE_MAX].rsplit(" ", 1)[0]
    return (cut if len(cut) > TITLE_MAX // 2 else line[:TITLE_MAX]).rstrip(" ,.;:") + "…"
