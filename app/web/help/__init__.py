"""The Help page (/help): docs/user/*.md rendered in the app, searchable, plus the slash commands
and the workflow catalog read from the code."""

from app.web.help.routes import router

__all__ = ["router"]
