"""The relay fixtures, for the end-to-end storage fault tests (the PostgreSQL ones are in tests/conftest.py)."""

from tests.relay.conftest import relay_factory  # noqa: F401
