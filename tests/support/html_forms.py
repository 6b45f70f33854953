"""Reading forms out of a page the way a browser would, with the standard library's parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Button:
    name: str | None
    value: str
    text: str


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)
    checkboxes: dict[str, str] = field(default_factory=dict)

    def button(self, containing: str) -> Button:
        for button in self.buttons:
            if containing in button.text or containing == button.value:
                return button
        raise AssertionError(f"no button with {containing!r} in {[b.text for b in self.buttons]}")

    def submission(self, button_text: str | None = None, **values: str) -> dict[str, str]:
        data = dict(self.fields)
        data.update(values)
        if button_text is not None:
            button = self.button(button_text)
            if button.name:
                data[button.name] = button.value
        return data


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: Button | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif not self.forms:
            return
        elif tag == "input":
            kind = values.get("type", "text")
            name = values.get("name")
            if not name:
                return
            if kind == "submit":
                self.forms[-1].buttons.append(Button(name, values.get("value", ""), values.get("value", "")))
            elif kind == "checkbox":
                self.forms[-1].checkboxes[name] = values.get("value", "on")
                if "checked" in values:
                    self.forms[-1].fields[name] = values.get("value", "on")
            else:
                self.forms[-1].fields[name] = values.get("value", "")
        elif tag == "button":
            self._button = Button(values.get("name"), values.get("value", ""), "")
        elif tag in ("select", "textarea") and values.get("name"):
            self.forms[-1].fields.setdefault(values["name"], "")

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            self._button.text = " ".join(self._button.text.split())
            self.forms[-1].buttons.append(self._button)
            self._button = None


def read_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_with_action(html: str, action_part: str) -> Form:
    for form in read_forms(html):
        if action_part in form.action:
            return form
    raise AssertionError(f"no form posting to {action_part!r}; forms: {[f.action for f in read_forms(html)]}")
