"""Russian mail templates: one Jinja file per kind, with `subject`, `text` and `html` blocks."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bridge.services.outbox import MailContent, MailKind

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class MailTemplates:
    """Built once; `render` fills one kind's three blocks (HTML autoescaped, text not)."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        loader = FileSystemLoader(directory)
        # auto_reload off: compiled once, never stat'ed again (the templates ship with the code).
        self._html = Environment(loader=loader, autoescape=select_autoescape(["html"], default=True),
                                 undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self._text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined,  # noqa: S701 - plain text
                                 trim_blocks=True, lstrip_blocks=True, auto_reload=False)

    def render(self, kind: MailKind, values: dict[str, Any]) -> MailContent:
        name = f"{kind.value}.jinja"
        text_template = self._text.get_template(name)
        html_template = self._html.get_template(name)
        subject = _block(self._text, text_template, "subject", values)
        return MailContent(
            subject=" ".join(subject.split()),
            text=_block(self._text, text_template, "text", values).strip() + "\n",
            html=_block(self._html, html_template, "html", values).strip() + "\n",
        )


def _block(environment: Environment, template: Any, block: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(values)))


@cache
def mail_templates() -> MailTemplates:
    """The templates, built on first use and shared (Jinja environments are thread-safe)."""
    return MailTemplates()
