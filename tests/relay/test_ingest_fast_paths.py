"""Ingest's shortcuts give the answers of the slow paths they skip."""

from __future__ import annotations

import asyncio
import random

from email_validator import EmailNotValidError, validate_email

from bot.relay.batch import SharedRead
from bot.relay.service import _checked_address, _plain_address


def _addresses() -> list[str]:
    rng = random.Random(5)
    found = ["a@example.com", "A.B@Example.COM", "a..b@x.com", ".a@x.com", "a.@x.com", "a@x", "a@x.c", "a@-x.com",
             "a@x-.com", "a@x--y.com", "a@xn--abc.com", "a@x.test", "a@localhost", "a@x.local", "a@1.2", "a@x.123",
             "a@x.arpa", "a@sub.onion", "a" * 64 + "@x.com", "a" * 65 + "@x.com", "a@" + "b" * 63 + ".com",
             "a@" + "b" * 64 + ".com", "a+tag@x.io", "_@x.io", "-@x.io", "a@x.io.", "a@.x.io", "a b@x.io", "用户@x.io"]
    for _ in range(30000):
        local = "".join(rng.choice("aZ09_+-.") for _ in range(rng.randrange(1, 8)))
        domain = ".".join("".join(rng.choice("aZ09-") for _ in range(rng.randrange(1, 6))) for _ in range(rng.randrange(1, 4)))
        found.append(f"{local}@{domain}.{''.join(rng.choice('abcXY1') for _ in range(rng.randrange(1, 4)))}")
    return found


def test_everyday_addresses_are_what_email_validator_makes_of_them() -> None:
    taken = 0
    for address in _addresses():
        plain = _plain_address(address)
        if plain is None:
            continue
        taken += 1
        try:
            assert plain == validate_email(address, check_deliverability=False).ascii_email, address
        except EmailNotValidError as exc:
            raise AssertionError(f"{address!r} taken as plain, but email_validator refuses it: {exc}") from None
    assert taken > 3000
    assert _checked_address("Bob@Example.COM") == ("Bob@example.com", None)
    assert _checked_address("a..b@example.com")[1] is not None  # refused with email_validator's reason


async def test_a_shared_read_begins_after_each_caller() -> None:
    """Callers that arrive while a read runs get the next one: nobody sees a value read before it called."""
    value, reads = 0, 0
    gate = asyncio.Event()

    async def read() -> int:
        nonlocal reads
        reads += 1
        seen = value
        await gate.wait()
        return seen

    shared = SharedRead(read)
    first = asyncio.ensure_future(shared.get())
    while reads == 0:
        await asyncio.sleep(0)
    value = 1  # e.g. a token revoked while the first read runs
    later = [asyncio.ensure_future(shared.get()) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [1] * 10
    assert reads == 2
