"""A trigger that is not there, disabled (for deliveries) or not the user's: a 404 page, or under
/hooks/ the JSON `not_found`."""

from app.web.errors import NotFound


class TriggerNotFound(NotFound):
    pass
