"""Template render cost: the sandboxed child process (what the relay uses) vs jinja2 in this process.

Same run, same template and variables; prints per-render latency and the ratio. In-process rendering
is the baseline only: it cannot bound a template's time or memory (see bot/relay/templates.py).

    .venv/bin/python bench/template_bench.py [--renders 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.relay.models import InlineTemplate  # noqa: E402
from bot.relay.templates import Renderer  # noqa: E402

TEMPLATE = InlineTemplate(subject="请审批：{{ title }}", text="{{ originator }} 提交了 {{ title }}。\n{% for k, v in form.items() %}{{ k }}: {{ v }}\n{% endfor %}",
                          html="<p>{{ originator }} 提交了 <b>{{ title }}</b></p><ul>{% for k, v in form.items() %}<li>{{ k }}: {{ v }}</li>{% endfor %}</ul>")
VARIABLES = {"title": "采购申请 PO-2026-1204", "originator": "张三", "form": {f"字段{i}": f"值 {i}" for i in range(10)}}


def in_process(n: int) -> float:
    text = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)
    start = time.perf_counter()
    for _ in range(n):  # compiled per render, as the relay did (sources arrive with each request)
        text.from_string(TEMPLATE.subject).render(VARIABLES)
        text.from_string(TEMPLATE.text or "").render(VARIABLES)
        html.from_string(TEMPLATE.html or "").render(VARIABLES)
    return (time.perf_counter() - start) / n


async def sandboxed(n: int, renderer: Renderer) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await renderer.render(TEMPLATE, VARIABLES)
    return (time.perf_counter() - start) / n


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    renderer = Renderer(timeout_s=2.0, max_chars=20 << 20)
    await renderer.render(TEMPLATE, VARIABLES)  # start the child
    ratios = []
    try:
        for i in range(args.rounds):
            base = in_process(args.renders)
            child = await sandboxed(args.renders, renderer)
            ratios.append(child / base)
            print(f"round {i + 1}: in-process {base * 1e3:.3f} ms, sandboxed child {child * 1e3:.3f} ms, "
                  f"ratio {child / base:.2f}x")
    finally:
        await renderer.close()
    print(f"median ratio sandboxed / in-process: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
