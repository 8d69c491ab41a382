"""`/triggers`: the current space's triggers — list, create, edit, rotate the secret (shown once, with
examples), enable/disable, delete — and each trigger's last deliveries.

Signed-in users only; another space's trigger is a 404, a change by a viewer a 403. Every form carries the CSRF token (the
middleware checks it); only the delivery endpoint (deliver.py, under /hooks/) takes none.
"""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.core.policy import Action, require
from app.core.secrets_box import SecretBox
from app.triggers import store
from app.triggers.secrets import AUTH_MODES
from app.triggers.targets import choices, key_of, resolve, target_of, workflow_key, workflow_target
from app.web.auth import requires_login
from app.web.htmx import navigate
from app.web.triggers.errors import TriggerNotFound
from app.web.triggers.examples import example_body, examples, trigger_url
from app.web.triggers.forms import mapping_rows, parse_trigger_form, submitted_mapping

BODY_LIMIT = 32 * 1024
DELIVERIES_SHOWN = 20
NOT_YOURS = "No trigger of yours has this id."


def _sid(request: Request) -> int:
    return request.user.space.id


async def _own(
    pool: AsyncConnectionPool, trigger_id: str, request: Request, needs: Action | None = None
) -> dict:
    """A trigger of the current space (else 404); `needs`: the role must allow it (else 403)."""
    async with pool.connection() as conn:
        trigger = await store.get_trigger(conn, trigger_id, request.user.id, space_id=_sid(request))
    if trigger is None:
        raise TriggerNotFound(NOT_YOURS)
    if needs is not None:
        require(request.user.space, needs)
    return trigger


async def _form(
    request: Request,
    pool: AsyncConnectionPool,
    *,
    trigger: dict | None,
    values: dict,
    errors: dict,
    mapping: dict | None,
    status: int = 200,
    note: str = "",
) -> Template:
    async with pool.connection() as conn:
        targets = await choices(conn, request.user.id, _sid(request))
        target = await resolve(conn, request.user.id, values.get("target", "")[:120], _sid(request))
    groups: dict[str, list] = {}
    for choice in targets:  # in order: the workflows, then the templates by whose they are
        groups.setdefault(choice.group, []).append(choice)
    context = {
        "trigger": trigger,
        "values": values,
        "errors": errors,
        "target_groups": groups.items(),
        "target": target,
        "rows": mapping_rows(target, mapping, errors),
        "pass_through": values.get("pass_through") == "on",
        "auth_modes": AUTH_MODES,
        "note": note,
    }
    return Template("pages/triggers/form.html", context=context, status_code=status)


async def _detail_context(
    pool: AsyncConnectionPool, settings: Settings, trigger: dict, secret: str | None = None
) -> dict:
    async with pool.connection() as conn:
        target = await target_of(conn, trigger)
    url = trigger_url(settings.base_url, trigger["id"])
    body = example_body(target.input_model if target else None, trigger["mapping"])
    return {
        "trigger": trigger,
        "target": target,
        "url": url,
        "body": body,
        "rows": mapping_rows(target, trigger["mapping"]),
        "examples": examples(url, trigger["auth_mode"], body, secret),
        "secret": secret,
    }


async def _secret_page(
    pool: AsyncConnectionPool, settings: Settings, trigger: dict, secret: str, *, created: bool
) -> Template:
    context = await _detail_context(pool, settings, trigger, secret) | {"created": created}
    # A page carrying a secret shown once must not be cached anywhere.
    return Template(
        "pages/triggers/secret.html", context=context, headers={"Cache-Control": "no-store"}
    )


@get("/")
async def triggers_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    async with pool.connection() as conn:
        rows = await store.list_triggers(conn, request.user.id, space_id=_sid(request))
    for row in rows:
        wf = workflow_target(row["workflow"] or "")
        row["target_title"] = row["template_title"] or (wf.title if wf else row["workflow"])
    return Template("pages/triggers/list.html", context={"triggers": rows})


@get("/new")
async def new_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    target: FromQuery[str] = "",
    workflow: FromQuery[str] = "",
) -> Template:
    """`?target=template:12` (or `?workflow=<name>`) picks the target; else the first workflow."""
    values = {
        "target": target or (workflow_key(workflow) if workflow else ""),
        "auth_mode": "hmac",
        "rate_per_minute": str(store.DEFAULT_RATE),
    }
    require(request.user.space, Action.EDIT)
    async with pool.connection() as conn:
        if await resolve(conn, request.user.id, values["target"][:120], _sid(request)) is None:
            first = next(iter(await choices(conn, request.user.id, _sid(request))), None)
            values["target"] = first.key if first else ""
    return await _form(request, pool, trigger=None, values=values, errors={}, mapping=None)


@get("/mapping")
async def mapping_fragment(
    request: Request, pool: NamedDependency[AsyncConnectionPool], target: FromQuery[str] = ""
) -> Template:
    """The mapping boxes of a target (the form's target picker swaps them in as it changes)."""
    async with pool.connection() as conn:
        chosen = await resolve(conn, request.user.id, target[:120], _sid(request))
    return Template(
        "partials/triggers/mapping.html",
        context={
            "target": chosen,
            "rows": mapping_rows(chosen, None),
            "errors": {},
            "pass_through": False,
        },
    )


async def _form_again(request, pool, trigger, parsed, then: str) -> Template:
    """The form once more: to check the mapping after the target changed, or with the errors (422)."""
    if parsed.retargeted:
        return await _form(
            request,
            pool,
            trigger=trigger,
            values=parsed.values,
            errors={},
            mapping=None,
            note=f"Check how the body maps onto this target's input, {then}.",
        )
    return await _form(
        request,
        pool,
        trigger=trigger,
        values=parsed.values,
        errors=parsed.errors,
        mapping=submitted_mapping(parsed.values),
        status=422,
    )


@post("/", request_max_body_size=BODY_LIMIT)
async def create_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    require(request.user.space, Action.EDIT)
    async with pool.connection() as conn:
        parsed = await parse_trigger_form(request, conn)
    if parsed.data is None:
        return await _form_again(request, pool, None, parsed, "then create the trigger")
    form, target = parsed.data, parsed.target
    try:
        async with pool.connection() as conn:
            trigger, secret = await store.create_trigger(
                conn,
                request.user.id,
                SecretBox.from_settings(settings),
                name=form.name,
                workflow=target.workflow,
                template_id=target.template_id,
                mapping=parsed.mapping,
                auth_mode=form.auth_mode,
                rate_per_minute=form.rate_per_minute,
                space_id=_sid(request),
            )
    except store.TriggerLimitReached as exc:
        return await _form(
            request,
            pool,
            trigger=None,
            values=parsed.values,
            errors={"form": str(exc)},
            mapping=submitted_mapping(parsed.values),
            status=422,
        )
    return await _secret_page(pool, settings, trigger, secret, created=True)


@get("/{trigger_id:str}")
async def trigger_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> Template:
    trigger = await _own(pool, trigger_id, request)
    async with pool.connection() as conn:
        deliveries = await store.deliveries(conn, trigger["id"], DELIVERIES_SHOWN)
    return Template(
        "pages/triggers/detail.html",
        context=await _detail_context(pool, settings, trigger) | {"deliveries": deliveries},
    )


@get("/{trigger_id:str}/deliveries")
async def deliveries_fragment(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Template:
    trigger = await _own(pool, trigger_id, request)
    async with pool.connection() as conn:
        deliveries = await store.deliveries(conn, trigger["id"], DELIVERIES_SHOWN)
    return Template(
        "partials/triggers/deliveries.html", context={"trigger": trigger, "deliveries": deliveries}
    )


@get("/{trigger_id:str}/edit")
async def edit_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Template:
    trigger = await _own(pool, trigger_id, request, Action.EDIT)
    values = {
        "name": trigger["name"],
        "target": key_of(trigger),
        "auth_mode": trigger["auth_mode"],
        "rate_per_minute": str(trigger["rate_per_minute"]),
        "pass_through": "on" if trigger["mapping"] is None else "",
    }
    return await _form(
        request, pool, trigger=trigger, values=values, errors={}, mapping=trigger["mapping"]
    )


@post("/{trigger_id:str}/edit", request_max_body_size=BODY_LIMIT)
async def save_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Response:
    trigger = await _own(pool, trigger_id, request, Action.EDIT)
    async with pool.connection() as conn:
        parsed = await parse_trigger_form(request, conn)
    if parsed.data is None:
        return await _form_again(request, pool, trigger, parsed, "then save")
    form, target = parsed.data, parsed.target
    async with pool.connection() as conn:
        saved = await store.update_trigger(
            conn,
            trigger["id"],
            request.user.id,
            name=form.name,
            workflow=target.workflow,
            template_id=target.template_id,
            mapping=parsed.mapping,
            rate_per_minute=form.rate_per_minute,
            space_id=_sid(request),
        )
    if saved is None:
        raise TriggerNotFound(NOT_YOURS)
    return navigate(request, f"/triggers/{trigger['id']}")


@post("/{trigger_id:str}/rotate", request_max_body_size=BODY_LIMIT)
async def rotate_secret(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> Template:
    trigger = await _own(pool, trigger_id, request, Action.EDIT)
    mode = (await request.form()).get("auth_mode")
    mode = mode if mode in AUTH_MODES else trigger["auth_mode"]
    async with pool.connection() as conn:
        rotated = await store.rotate_secret(
            conn,
            trigger["id"],
            request.user.id,
            SecretBox.from_settings(settings),
            mode,
            space_id=_sid(request),
        )
    if rotated is None:
        raise TriggerNotFound(NOT_YOURS)
    return await _secret_page(pool, settings, rotated[0], rotated[1], created=False)


async def _switch(
    request: Request, pool: AsyncConnectionPool, trigger_id: str, enabled: bool
) -> Response:
    await _own(pool, trigger_id, request, Action.EDIT)
    async with pool.connection() as conn:
        trigger = await store.set_enabled(
            conn, trigger_id, request.user.id, enabled, space_id=_sid(request)
        )
    if trigger is None:
        raise TriggerNotFound(NOT_YOURS)
    return navigate(request, f"/triggers/{trigger['id']}")


@post("/{trigger_id:str}/enable", request_max_body_size=BODY_LIMIT)
async def enable_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Response:
    return await _switch(request, pool, trigger_id, True)


@post("/{trigger_id:str}/disable", request_max_body_size=BODY_LIMIT)
async def disable_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Response:
    return await _switch(request, pool, trigger_id, False)


@post("/{trigger_id:str}/delete", request_max_body_size=BODY_LIMIT)
async def delete_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> Response:
    await _own(pool, trigger_id, request, Action.EDIT)
    async with pool.connection() as conn:
        if not await store.delete_trigger(
            conn, trigger_id, request.user.id, space_id=_sid(request)
        ):
            raise TriggerNotFound(NOT_YOURS)
    return navigate(request, "/triggers")


router = Router(
    "/triggers",
    guards=[requires_login],
    route_handlers=[
        triggers_page,
        new_trigger,
        mapping_fragment,
        create_trigger,
        trigger_page,
        deliveries_fragment,
        edit_trigger,
        save_trigger,
        rotate_secret,
        enable_trigger,
        disable_trigger,
        delete_trigger,
    ],
)
