"""Chat pages and actions. Each handler: parse → authorize (the store only finds your own
conversations) → call one function → render. An HTMX request gets a fragment; a plain request the
page or a redirect, so every action also works as an ordinary form."""

from __future__ import annotations

from datetime import datetime

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from psycopg_pool import AsyncConnectionPool

from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.chat import store
from app.web.chat import workflows as chat_workflows
from app.web.chat.forms import MessageForm, RegenerateForm, TitleForm
from app.web.chat.replies import Replies
from app.web.chat.store import ChatError
from app.web.chat.stream import reply_events
from app.web.htmx import is_htmx, navigate
from app.web.live import LiveHub, provide_hub

BODY_LIMIT = 64 * 1024  # a message is at most 32,000 characters; room for UTF-8 and the form


def render(request: Request, name: str, **context) -> str:
    """A fragment as a string (for SSE events), rendered like a Template response would be."""
    return request.app.template_engine.get_template(name).render(request=request, **context).strip()


async def provide_replies(request: Request) -> Replies:
    return request.app.state.replies


async def _page(
    request: Request,
    pool: AsyncConnectionPool,
    conversation_id: int | None,
    *,
    status_code: int = 200,
    **extra,
) -> Template:
    user = request.user
    async with pool.connection() as conn:
        conversation = messages = None
        if conversation_id is not None:
            conversation = await store.get_conversation(conn, user.id, conversation_id)
            messages = await store.list_messages(conn, conversation.id)
            extra.setdefault(
                "chat_runs",
                await chat_workflows.chat_runs(
                    conn, conversation.id, user.id, [m.id for m in messages]
                ),
            )
        conversations = await store.list_conversations(conn, user.id)
    context = {
        "conversation": conversation,
        "messages": messages or [],
        "conversations": conversations[: store.SIDEBAR_PAGE],
        "more": len(conversations) > store.SIDEBAR_PAGE,
        "model_label": request.app.state.llm.label,
        "composer": {"value": "", "error": None},
        **extra,
    }
    return Template("pages/chat/index.html", context=context, status_code=status_code)


@get("/")
async def new_chat_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    return await _page(request, pool, None)


@get("/{conversation_id:int}")
async def chat_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], conversation_id: FromPath[int]
) -> Template:
    return await _page(request, pool, conversation_id)


@get("/list")
async def more_conversations(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    before_at: FromQuery[datetime],
    before_id: FromQuery[int],
) -> Template:
    async with pool.connection() as conn:
        found = await store.list_conversations(conn, request.user.id, before=(before_at, before_id))
    return Template(
        "partials/chat/conversation_items.html",
        context={
            "conversations": found[: store.SIDEBAR_PAGE],
            "more": len(found) > store.SIDEBAR_PAGE,
            "conversation": None,
        },
    )


async def _send(
    request: Request, pool: AsyncConnectionPool, replies: Replies, conversation_id: int | None
) -> Response:
    form = await parse_form(request, MessageForm)
    if form.data is None:
        return await _composer_error(
            request,
            pool,
            conversation_id,
            form.values.get("content", ""),
            form.errors.get("content", "Check the message."),
            422,
        )
    template = await chat_workflows.template_command(
        pool, request.user.id, form.data.content, request.user.space.id
    )
    if template is not None or chat_workflows.is_command(
        form.data.content
    ):  # /report, /help, /<template>: no model reply
        try:
            return await chat_workflows.run_command(
                request, pool, conversation_id, form.data.content, template
            )
        except chat_workflows.CommandError as exc:
            return await _composer_error(
                request, pool, conversation_id, form.values["content"], exc.message, 422
            )
    user, llm = request.user, request.app.state.llm
    try:
        async with pool.connection() as conn:
            exchange = await store.start_exchange(
                conn,
                user_id=user.id,
                tier=user.tier,
                conversation_id=conversation_id,
                content=form.data.content,
                model=llm.model,
            )
            history = await store.load_context(conn, exchange.conversation.id, exchange.reply.id)
            replies.start(
                user.id, exchange.conversation.id, exchange.reply.id, history, user.space.id
            )
            if conversation_id is None or not is_htmx(request):
                return navigate(request, f"/chat/{exchange.conversation.id}")
            # The sidebar is sent again only when this chat moved to the top.
            conversations = (
                await store.list_conversations(conn, user.id) if exchange.moved_up else None
            )
    except ChatError as exc:
        return await _composer_error(
            request,
            pool,
            conversation_id,
            form.values["content"],
            exc.message,
            429 if exc.status_code == 429 else 422,
        )
    return Template(
        "partials/chat/exchange.html",
        context={
            "sent": exchange.sent,
            "reply": exchange.reply,
            "conversation": exchange.conversation,
            "conversations": (conversations or [])[: store.SIDEBAR_PAGE],
            "more": conversations is not None and len(conversations) > store.SIDEBAR_PAGE,
            "sidebar": conversations is not None,
        },
    )


async def _composer_error(request, pool, conversation_id, value: str, error: str, status: int):
    composer = {"value": value, "error": error}
    if not is_htmx(request):
        return await _page(request, pool, conversation_id, status_code=status, composer=composer)
    action = f"/chat/{conversation_id}/messages" if conversation_id else "/chat"
    return Template(
        "partials/chat/composer.html",
        status_code=status,
        headers={"HX-Retarget": "#composer", "HX-Reswap": "outerHTML"},
        context={"composer": composer, "action": action},
    )


@post("/", request_max_body_size=BODY_LIMIT)
async def send_first_message(
    request: Request, pool: NamedDependency[AsyncConnectionPool], replies: NamedDependency[Replies]
) -> Response:
    return await _send(request, pool, replies, None)


@post("/{conversation_id:int}/messages", request_max_body_size=BODY_LIMIT)
async def send_message(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    replies: NamedDependency[Replies],
    conversation_id: FromPath[int],
) -> Response:
    return await _send(request, pool, replies, conversation_id)


@get("/{conversation_id:int}/messages/{message_id:int}/stream")
async def reply_stream(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    replies: NamedDependency[Replies],
    hub: NamedDependency[LiveHub],
    conversation_id: FromPath[int],
    message_id: FromPath[int],
) -> Stream:
    user = request.user
    live = replies.get(message_id)
    message = None
    # Written here: the process itself knows whose it is, no query needed on the hot path.
    if live is None or live.user_id != user.id or live.conversation_id != conversation_id:
        live = None
        async with pool.connection() as conn:
            message = await store.get_message(conn, user.id, conversation_id, message_id)

    def render_end(final: store.Message) -> str:
        return render(
            request, "partials/chat/message.html", m=final, conversation_id=conversation_id
        )

    events = reply_events(
        live=live, message=message, hub=hub, pool=pool, user_id=user.id, render_end=render_end
    )
    return Stream(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@post("/{conversation_id:int}/messages/{message_id:int}/stop")
async def stop_reply(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    conversation_id: FromPath[int],
    message_id: FromPath[int],
) -> Response:
    async with pool.connection() as conn:
        await store.request_stop(conn, request.user.id, conversation_id, message_id)
    return (
        Response(None, status_code=204)
        if is_htmx(request)
        else Redirect(f"/chat/{conversation_id}", status_code=303)
    )


@post("/{conversation_id:int}/regenerate", request_max_body_size=BODY_LIMIT)
async def regenerate(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    replies: NamedDependency[Replies],
    conversation_id: FromPath[int],
) -> Response:
    form = await parse_form(request, RegenerateForm)
    if form.data is None:
        return _flash("That reply can no longer be regenerated; reload the page.", 422)
    user = request.user
    try:
        async with pool.connection() as conn:
            reply = await store.restart_reply(
                conn,
                user_id=user.id,
                tier=user.tier,
                conversation_id=conversation_id,
                message_id=form.data.message_id,
                model=request.app.state.llm.model,
            )
            history = await store.load_context(conn, conversation_id, reply.id)
    except ChatError as exc:
        return _flash(exc.message, 429 if exc.status_code == 429 else 422)
    replies.start(user.id, conversation_id, reply.id, history, user.space.id)
    if not is_htmx(request):
        return Redirect(f"/chat/{conversation_id}", status_code=303)
    return Template(
        "partials/chat/message.html", context={"m": reply, "conversation_id": conversation_id}
    )


def _flash(message: str, status: int) -> Template:
    return Template(
        "partials/chat/flash.html",
        context={"message": message},
        status_code=status,
        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
    )


@get("/{conversation_id:int}/title")
async def edit_title(
    request: Request, pool: NamedDependency[AsyncConnectionPool], conversation_id: FromPath[int]
) -> Template:
    if not is_htmx(request):
        return await _page(request, pool, conversation_id, editing_title=True)
    async with pool.connection() as conn:
        conversation = await store.get_conversation(conn, request.user.id, conversation_id)
    return Template(
        "partials/chat/title_form.html", context={"conversation": conversation, "error": None}
    )


@post("/{conversation_id:int}/title", request_max_body_size=BODY_LIMIT)
async def rename(
    request: Request, pool: NamedDependency[AsyncConnectionPool], conversation_id: FromPath[int]
) -> Response:
    form = await parse_form(request, TitleForm)
    async with pool.connection() as conn:
        if form.data is None:
            conversation = await store.get_conversation(conn, request.user.id, conversation_id)
            return Template(
                "partials/chat/title_form.html",
                status_code=422,
                context={
                    "conversation": conversation,
                    "value": form.values.get("title", ""),
                    "error": form.errors.get("title"),
                },
            )
        conversation = await store.rename(conn, request.user.id, conversation_id, form.data.title)
    if not is_htmx(request):
        return Redirect(f"/chat/{conversation_id}", status_code=303)
    return Template("partials/chat/title_renamed.html", context={"conversation": conversation})


@get("/{conversation_id:int}/delete")
async def confirm_delete(
    request: Request, pool: NamedDependency[AsyncConnectionPool], conversation_id: FromPath[int]
) -> Template:
    async with pool.connection() as conn:
        conversation = await store.get_conversation(conn, request.user.id, conversation_id)
    return Template("pages/chat/delete.html", context={"conversation": conversation})


@post("/{conversation_id:int}/delete")
async def delete(
    request: Request, pool: NamedDependency[AsyncConnectionPool], conversation_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        await store.delete(conn, request.user.id, conversation_id)
    return navigate(request, "/chat")


router = Router(
    path="/chat",
    guards=[requires_login],
    dependencies={"replies": Provide(provide_replies), "hub": Provide(provide_hub)},
    route_handlers=[
        new_chat_page,
        chat_page,
        more_conversations,
        send_first_message,
        send_message,
        reply_stream,
        stop_reply,
        regenerate,
        edit_title,
        rename,
        confirm_delete,
        delete,
    ],
)
