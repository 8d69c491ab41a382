"""Real chromium, real server: the flows a person clicks through in the chat."""

import re

from playwright.sync_api import Page, expect

from tests.support.model_server import Failure, Reply
from tests.support.web import PASSWORD, new_email


def sign_up(page: Page) -> str:
    email = new_email("browser")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()  # the boosted swap is done
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    return email


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def words(n: int) -> str:
    return "".join(f"w{i} " for i in range(n)).strip()


def test_sign_up_send_and_watch_the_reply_stream_in_then_reload(page: Page, model):
    sign_up(page)
    model.script(Reply(words(30), delay=0.1), Reply("Second **answer**."))
    send(page, "Tell me thirty words")
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    reply = page.locator("article.msg-assistant").last
    expect(reply).to_contain_text("w3")
    assert "w29" not in reply.inner_text()  # partial text is on screen before the end
    expect(reply).to_have_class(re.compile("is-streaming"))
    expect(reply.get_by_role("button", name="Stop")).to_be_visible()
    expect(reply.get_by_role("button", name="Regenerate")).to_be_visible(timeout=10_000)
    expect(reply).to_contain_text(words(30))
    expect(page.get_by_role("navigation", name="Your chats")).to_contain_text(
        "Tell me thirty words"
    )

    composer = page.get_by_label("Message")
    composer.fill("line one")
    composer.press("Shift+Enter")
    composer.type("line two")
    assert composer.input_value() == "line one\nline two"  # Shift+Enter adds a line, does not send
    composer.press("Enter")
    expect(page.locator("article.msg-user").last).to_contain_text("line one\nline two")
    expect(page.locator("article.msg-assistant").last.locator("strong")).to_have_text("answer")
    expect(composer).to_have_value("")

    page.reload()
    expect(page.locator("article.msg-user")).to_have_count(2)
    expect(page.locator("article.msg-assistant").first).to_contain_text(words(30))
    expect(page.locator("article.msg-assistant").last.locator("strong")).to_have_text("answer")


def test_stop_mid_stream_keeps_the_partial_text(page: Page, model):
    sign_up(page)
    model.script(Reply(words(200), delay=0.05))
    send(page, "Write a lot")
    reply = page.locator("article.msg-assistant").last
    expect(reply).to_contain_text("w5")
    reply.get_by_role("button", name="Stop").click()
    expect(reply).to_contain_text("Stopped", timeout=5_000)
    kept = page.locator("article.msg-assistant").last.locator(".msg-bubble").inner_text()
    assert kept.startswith("w0 w1 w2") and "w199" not in kept
    page.wait_for_timeout(500)
    assert (
        page.locator("article.msg-assistant").last.locator(".msg-bubble").inner_text() == kept
    )  # really stopped
    page.reload()
    expect(page.locator("article.msg-assistant").last).to_contain_text("Stopped")
    assert page.locator("article.msg-assistant").last.locator(".msg-bubble").inner_text() == kept


def test_a_model_error_shows_a_retry_that_works(page: Page, model):
    sign_up(page)
    model.script(Failure(500), Reply("Back on track."))
    send(page, "Are you there?")
    alert = page.locator("article.msg-assistant").last.get_by_role("alert")
    expect(alert).to_contain_text("internal error")
    expect(page.locator("article.msg-user").last).to_contain_text("Are you there?")  # never lost
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("article.msg-assistant").last).to_contain_text("Back on track.")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_script_in_a_reply_is_shown_as_text_and_never_runs(page: Page, model):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_up(page)
    evil = (
        'Look: <script>window.__pwned = 1; alert("xss")</script> and '
        '<img src=x onerror="window.__pwned = 2; alert(2)"> and [link](javascript:alert(3))'
    )
    model.script(Reply(evil, delay=0.02))
    send(page, "Say something nasty")
    reply = page.locator("article.msg-assistant").last
    expect(reply.get_by_role("button", name="Regenerate")).to_be_visible()
    expect(reply).to_contain_text('<script>window.__pwned = 1; alert("xss")</script>')
    expect(reply).to_contain_text("onerror=")
    assert page.evaluate("window.__pwned") is None
    assert reply.locator("script, img").count() == 0
    page.reload()
    expect(page.locator("article.msg-assistant").last).to_contain_text("<script>")
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_rename_and_delete_a_chat(page: Page, model):
    sign_up(page)
    send(page, "Weekend plans")
    expect(
        page.locator("article.msg-assistant").last.get_by_role("button", name="Regenerate")
    ).to_be_visible()
    page.get_by_role("link", name="Rename").click()
    page.get_by_label("Title").fill("Trip to Rome")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Trip to Rome")).to_be_visible()
    expect(page.get_by_role("navigation", name="Your chats")).to_contain_text("Trip to Rome")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete this chat?")).to_be_visible()
    page.get_by_role("button", name="Delete chat").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    expect(page.get_by_role("navigation", name="Your chats")).not_to_contain_text("Trip to Rome")


def test_the_workflow_picker_leaves_the_conversation_in_view(page: Page, model):
    sign_up(page)
    model.script(Reply("A first answer."))
    send(page, "Hello there")
    expect(page.locator("article.msg-assistant").last).to_contain_text("A first answer.")
    page.locator(".composer").get_by_text("Workflows").click()
    expect(page.get_by_role("heading", name="Start a workflow")).to_be_visible()
    pane = page.locator(".chat-pane").bounding_box()
    messages = page.locator(".messages-scroll").bounding_box()
    panel = page.locator("#workflow-panel").bounding_box()
    assert messages["height"] >= 0.3 * pane["height"], (
        messages,
        pane,
    )  # the conversation stays readable
    assert panel["y"] >= messages["y"] + messages["height"] - 1  # below it, never on top of it
    expect(page.locator("article.msg-user").last).to_be_in_viewport()


def test_a_long_conversation_opens_at_its_latest_message(page: Page, model):
    sign_up(page)
    model.script(Reply(words(400)), Reply("The latest answer."))
    send(page, "A long first question")
    expect(page.locator("article.msg-assistant").last).to_contain_text("w399", timeout=15_000)
    send(page, "And a second one")
    expect(page.locator("article.msg-assistant").last).to_contain_text("The latest answer.")
    conversation = page.url

    page.goto(conversation)  # a full load
    expect(page.locator("article.msg-assistant").last).to_be_in_viewport()
    expect(page.locator("article.msg-user").first).not_to_be_in_viewport()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Chat").click()
    page.get_by_role("navigation", name="Your chats").get_by_role(
        "link", name="A long first question"
    ).click()  # boosted visits too
    expect(page).to_have_url(conversation)
    expect(page.locator("article.msg-assistant").last).to_be_in_viewport()
