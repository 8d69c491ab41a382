"""An answer to an `ask_person` block, checked against the block's fields: the one check of every
path that decides such a hook. The web's forms (run card, /approvals, the e-mail link's page) turn
their strings into values first (app/web/runs/hook_fields.py) and then call `check_answer`; the JSON
API and the CLI pass the JSON they were given through `checked_data`.

    fields = answer_fields(hook["show"])          # the block's fields, as the hook carries them
    values, problems = check_answer(fields, {"amount": "a lot"})   # {}, {"amount": "Input should be a valid number…"}
    data = checked_data(hook, "submit", {"amount": 12})  # a HookToDecide; or InputInvalid, per field

The rules are the template start form's (app/templates/inputs.py `input_model`), so an answer obeys
exactly what the block's fields say, whichever way it arrives.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.engine.errors import InputInvalid
from app.engine.rows import HookToDecide
from app.templates.format import InputField
from app.templates.inputs import input_model, json_values

# File fields are refused in an ask_person form at save time (it has no upload); a hand-made hook
# that still has one is answered without it.
NOT_ASKED = {"file", "files"}
# Actions that decline to answer: nothing is checked (a form's fields can stay empty).
DECLINING = {"reject", "cancel"}


def answer_fields(show: Any) -> list[InputField]:
    """The fields a hook asks for (`show["form"]`, in the template format's input-field shape)."""
    fields = []
    for raw in (show.get("form") if isinstance(show, dict) else None) or []:
        try:
            field = InputField.model_validate(raw)
        except ValidationError:
            continue  # a hand-made hook with a malformed field: nothing to ask for it
        if field.kind not in NOT_ASKED:
            fields.append(field)
    return fields


def check_answer(
    fields: list[InputField], data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers as JSON values by field name, or the problems by field name (values then empty)."""
    if not fields:
        return {}, {}
    answered = {f.name: data[f.name] for f in fields if f.name in data}
    try:
        validated = input_model(fields, "HookAnswer").model_validate(answered)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for problem in exc.errors():
            loc = problem.get("loc") or ()
            name = str(loc[0]) if loc else "form"
            message = str(problem.get("msg", "Not valid."))
            if problem.get("type") == "missing":
                message = "Fill this in."
            problems.setdefault(name, message.removeprefix("Value error, "))
        return {}, problems
    return json_values(validated), {}


def checked_data(hook: HookToDecide, action: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """`data` with the hook's fields checked and cleaned (the other keys, e.g. feedback, kept), for
    a decision given as JSON. InputInvalid (`data.<field>`: message, one per field) if any is wrong."""
    data = dict(data or {})
    fields = answer_fields(hook.show)
    if not fields or action in DECLINING:
        return data
    values, problems = check_answer(fields, data)
    if problems:
        raise InputInvalid(
            [{"field": f"data.{name}", "message": message} for name, message in problems.items()]
        )
    return data | values
