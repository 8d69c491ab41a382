"""Errors any area of the web may raise, answered in one place (app/web/app.py `_error_page`)."""


class NotFound(Exception):
    """Not there, or not the user's (which looks the same to them): a 404 page, or the JSON API's
    `not_found`. Areas subclass it for their own things (a conversation, ...)."""
