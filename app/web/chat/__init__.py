"""The chat: conversations in a sidebar, replies streamed live over SSE.

`lifespan(llm)` owns `app.state.llm` (the model client) and `app.state.replies` (the replies this
process is writing); it needs the pool and the live hub, so it comes after both in the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar

from app.core.llm import LLM
from app.web.chat.proposals import router as proposals_router
from app.web.chat.replies import Replies
from app.web.chat.routes import router

# Workflows in the chat: the model's proposals (the picker and run cards are app/web/runs').
workflow_routers = [proposals_router]

__all__ = ["lifespan", "router", "workflow_routers"]


def lifespan(llm: LLM | None = None) -> Callable:
    @asynccontextmanager
    async def chat(app: Litestar) -> AsyncIterator[None]:
        services = app.state.services
        model = llm or LLM.from_settings(services.settings)
        app.state.llm = model
        app.state.replies = Replies(services.pool, app.state.hub, model)
        try:
            yield
        finally:
            await app.state.replies.close()
            if llm is None:
                await model.close()

    return chat
