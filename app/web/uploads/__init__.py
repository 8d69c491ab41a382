"""The workflows that take files (document-processing, data-analysis): their start forms with
uploads, their review and drill-down forms, their reports and charts; and their run-card panels,
registered with the shared run card on import."""

from app.web.chat import run_cards
from app.web.uploads.panels import PANELS
from app.web.uploads.routes import routers

run_cards.PANELS.update(PANELS)

__all__ = ["routers"]
