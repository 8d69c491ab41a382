"""Everything a run looks like on the web and how it starts from the web: the run card and its
panels (cards.py, panels.py), the one start path (start.py), the picker and the cards' routes on
the chat's page (in_chat.py), the workflows dashboard (/workflows) and run detail pages (routes.py), renaming a run (rename.py),
rerunning one from a step (rerun.py) and replaying many (replay.py).
Any area may import this one."""

from app.web.runs.in_chat import cards_router, picker_router
from app.web.runs.rename import router as rename_router
from app.web.runs.replay import router as replay_router
from app.web.runs.rerun import router as rerun_router
from app.web.runs.routes import router

__all__ = [
    "cards_router",
    "picker_router",
    "rename_router",
    "replay_router",
    "rerun_router",
    "router",
]
