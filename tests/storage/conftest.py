"""The relay fixtures, for the end-to-end storage fault tests; the real PostgreSQL server."""

from tests.relay.conftest import relay_factory  # noqa: F401
from tests.storage.postgres_server import postgres_server, postgres_url  # noqa: F401
