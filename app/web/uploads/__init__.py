"""The workflows that take files (document-processing, data-analysis): their start forms with
uploads, their review and drill-down forms, their reports and charts; and their run-card panels
(`PANELS`, registered with the run card by the app: app/web/runs/panels.py)."""

from app.web.uploads.panels import PANELS
from app.web.uploads.routes import routers

__all__ = ["PANELS", "routers"]
