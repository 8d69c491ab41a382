"""Issue 13: the API gets a run's files. `GET /api/v1/runs/{id}` lists them (name, type, size, URL);
the URL downloads with the same API key; another user's file, or a file of another run, is a 404."""

from tests.integration.api.conftest import new_account, start, wait_for
from tests.integration.api.workflows import FILES


async def test_a_runs_files_are_listed_and_download_with_the_api_key(api, account, pool, worker):
    run = await start(pool, account, FILES, topic="Harvest notes")
    await wait_for(pool, run.id, "completed")
    detail = await api.get(f"/api/v1/runs/{run.id}", headers=account.headers)
    assert detail.status_code == 200, detail.text
    [listed] = detail.json()["files"]
    assert listed["name"] == "report.md" and listed["content_type"] == "text/markdown"
    assert listed["size"] == len(b"# Harvest notes\n")
    assert listed["url"] == f"/api/v1/runs/{run.id}/files/{listed['id']}"

    download = await api.get(listed["url"], headers=account.headers)
    assert download.status_code == 200 and download.content == b"# Harvest notes\n"
    assert download.headers["content-type"].startswith("text/markdown")
    assert download.headers["content-disposition"] == 'attachment; filename="report.md"'

    assert (await api.get(listed["url"])).status_code == 401  # the key is required
    stranger = await new_account(pool)
    refused = await api.get(listed["url"], headers=stranger.headers)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    other_run = await start(pool, account, FILES, topic="Other")
    elsewhere = await api.get(
        f"/api/v1/runs/{other_run.id}/files/{listed['id']}", headers=account.headers
    )
    assert elsewhere.status_code == 404


async def test_the_openapi_document_describes_run_files(api):
    schema = (await api.get("/api/openapi.json")).json()
    assert "/api/v1/runs/{run_id}/files/{file_id}" in schema["paths"]
    detail = schema["components"]["schemas"]["RunDetail"]["properties"]
    assert "files" in detail
