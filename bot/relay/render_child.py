"""The template renderer's child process: jinja2 in a sandbox, in a process the bot can kill.

jinja2's sandbox stops a template from reaching Python internals, but not from working forever
or filling memory (`range` nested in `range`, `'a' * 10**10`, `'x'.ljust(10**10)`, a `**` the
compiler folds at parse time). So templates are compiled and rendered here, never in the bot's
process: the parent bounds the wall time (and kills this process past it), the address space is
capped below, and output stops at `max_chars`.

Run as a script (`python -I render_child.py MEMORY_BYTES`) with only jinja2 imported; frames on
stdin/stdout are a 4-byte big-endian length and a JSON document:
    request  {"op": "check" | "render", "template": {"subject", "text", "html"}, "variables": {...},
              "max_chars": N}
    answer   {"ok": {"subject", "text", "html"}} or {"error": KIND, "part": PART, "detail": TEXT}
KIND is syntax, undefined, render, too_big or memory.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
from functools import lru_cache
from typing import Any, BinaryIO

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

PARTS = ("subject", "text", "html")
_ENVS = {
    "subject": SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True),
    "text": SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True),
    "html": SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True),
}


class TooBig(Exception):
    pass


@lru_cache(maxsize=256)
def _compiled(part: str, source: str) -> Template:
    return _ENVS[part].from_string(source)


def _render(template: Template, variables: dict[str, Any], budget: int) -> str:
    """Stream the output and stop as soon as it passes the budget (a loop never finishes otherwise)."""
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(variables):
        size += len(chunk)
        if size > budget:
            raise TooBig
        chunks.append(chunk)
    return "".join(chunks)


def handle(request: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, str | None] = request["template"]
    budget = int(request.get("max_chars", 1 << 20))
    part = ""
    try:
        compiled = {}
        for part in PARTS:
            if template.get(part) is not None:
                compiled[part] = _compiled(part, template[part])
        if request["op"] == "check":
            return {"ok": {}}
        out: dict[str, str | None] = dict.fromkeys(PARTS)
        for part, tpl in compiled.items():
            out[part] = _render(tpl, request.get("variables") or {}, budget)
            budget -= len(out[part] or "")
        return {"ok": out}
    except TemplateSyntaxError as exc:
        return {"error": "syntax", "part": part, "detail": f"line {exc.lineno}: {exc.message}"}
    except UndefinedError as exc:
        return {"error": "undefined", "part": part, "detail": str(exc.message)}
    except TooBig:
        return {"error": "too_big", "part": part, "detail": ""}
    except MemoryError:
        return {"error": "memory", "part": part, "detail": ""}
    except RecursionError:
        return {"error": "render", "part": part, "detail": "nested too deeply"}
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        return {"error": "render", "part": part, "detail": f"{type(exc).__name__}: {exc}"[:300]}


def _read(stream: BinaryIO) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (length,) = struct.unpack(">I", head)
    return stream.read(length)


def main() -> None:
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (frame := _read(stdin)) is not None:
        try:
            answer = handle(json.loads(frame))
        except MemoryError:
            answer = {"error": "memory", "part": "", "detail": ""}
        data = json.dumps(answer, ensure_ascii=False).encode()
        stdout.write(struct.pack(">I", len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    main()
