"""A run's files (documents, PDFs): `GET /artifacts/{id}` for their owner only."""

from app.web.artifacts.routes import router

__all__ = ["router"]
