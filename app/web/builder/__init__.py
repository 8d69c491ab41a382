"""The template builder (/templates): people build, version, test, run and share workflow
templates in the browser. The template format, its store and its interpreter are app/templates;
this area is their pages: the list (routes.py), the editor as one form (doc_form.py, edits.py,
editing.py), the format as the editor needs it (formats.py), a template's inputs as a run form
(run_inputs.py) and the store as the pages need it (library.py)."""

from app.web.builder.routes import router

__all__ = ["router"]
