"""Hook tokens: the credential in approval links, webhook URLs and the CLI."""


def test_hook_tokens_are_long_url_safe_and_never_look_like_options():
    from app.engine.hooks import new_token

    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(
        len(t) >= 43 and t[0].isalnum() and all(c.isalnum() or c in "-_" for c in t) for t in tokens
    )
