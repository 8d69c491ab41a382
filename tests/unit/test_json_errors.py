"""The API's one error mapping answers the web's NotFound as the JSON `not_found`, never a 500."""

from types import SimpleNamespace

from app.web.errors import NotFound
from app.web.json_errors import handle


def test_a_web_not_found_is_a_json_404():
    request = SimpleNamespace(url=SimpleNamespace(path="/api/v1/runs/x"))
    response = handle(request, NotFound("no such run"))
    assert response.status_code == 404
    assert response.content == {"error": {"code": "not_found", "message": "no such run"}}
