"""The relay fixtures, for the end-to-end storage fault tests."""

from tests.relay.conftest import relay_factory  # noqa: F401
