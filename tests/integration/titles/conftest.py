from tests.integration.api.conftest import api  # noqa: F401  (the API client fixture)
