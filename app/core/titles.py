"""Titles made from what a person wrote: a conversation's (its first message) and a run's (what its
workflow makes of the input: app/engine/registry.py `WorkflowDef.run_title`)."""

TITLE_MAX = 80
RUN_TITLE_MAX = 120  # a title a person typed (a rename, the API's or CLI's `title`)


def title_from(text: str) -> str:
    """The first line of the first message, cut at a word near TITLE_MAX characters."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX:
        return line or "New chat"
    cut = line[:TITLE_MAX].rsplit(" ", 1)[0]
    return (cut if len(cut) > TITLE_MAX // 2 else line[:TITLE_MAX]).rstrip(" ,.;:") + "…"
