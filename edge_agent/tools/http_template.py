"""URL templates of ``[[tools.http]]``: where the model's values may go, and nowhere else. Pure.

A template such as ``https://api.example.com/v1/quote/{symbol}?range={range}&key=demo`` is
split once, at config time, into scheme + host + port (fixed: no placeholder may appear there,
nor in the fragment or a query key), path segments and query values. A value fills only its
own path segment or query value, percent-encoded with nothing left safe: ``x/../../admin``
becomes ``x%2F..%2F..%2Fadmin`` (one segment), ``x?y=1`` and ``x#`` cannot start a query or a
fragment, ``http://evil`` is text inside a segment; a segment that would be only ``.`` or ``..``
is encoded (``%2E``) so no client or server folds it into its parent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["Template", "placeholders", "template_problems"]

_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")


def placeholders(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def template_problems(url: str, parameters: Mapping[str, Any]) -> list[str]:
    """What is wrong with a template (key-relative messages: "url = ...: ..."), [] if fine."""
    try:
        Template(url)
    except ValueError as exc:
        return [f"url = {url!r}: {exc}"]
    props = parameters.get("properties", {}) if isinstance(parameters, Mapping) else {}
    problems = []
    if parameters and parameters.get("type", "object") != "object":
        problems.append("parameters: expected an object schema ({type = 'object', ...})")
    for name in placeholders(url):
        if not isinstance(props, Mapping) or name not in props:
            problems.append(
                f"url: placeholder {{{name}}} is not a property in parameters; add "
                f"parameters.properties.{name}"
            )
    return problems


class Template:
    """A checked URL template; `fill(arguments)` gives the URL and the names it used."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL template")
        if "{" in parts.netloc or "}" in parts.netloc or "{" in parts.scheme:
            raise ValueError("placeholders may not be in the scheme, host or port")
        if parts.fragment or "#" in url:
            raise ValueError("a URL template has no fragment (#...)")
        if parts.username or parts.password:
            raise ValueError("no credentials in the URL; use header_files")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.segments = parts.path.split("/")
        self.query: list[tuple[str, str]] = parse_qsl(parts.query, keep_blank_values=True)
        for key, _ in self.query:
            if _PLACEHOLDER.search(key):
                raise ValueError("placeholders may fill query values, not query keys")
        leftovers = _PLACEHOLDER.sub("", parts.path + parts.query)
        if "{" in leftovers or "}" in leftovers:
            raise ValueError("a placeholder is {name} with letters, digits and '_'")

    @property
    def names(self) -> list[str]:
        out = [n for seg in self.segments for n in placeholders(seg)]
        return out + [n for _, v in self.query for n in placeholders(v)]

    def fill(self, arguments: Mapping[str, Any]) -> tuple[str, set[str]]:
        """The URL with `arguments` in place; KeyError names a missing path value."""
        used: set[str] = set()

        def value(match: re.Match[str], *, required: bool) -> str:
            name = match.group(1)
            if name not in arguments or arguments[name] is None:
                if required:
                    raise KeyError(name)
                return ""
            used.add(name)
            return quote(_text(arguments[name]), safe="")

        path = []
        for seg in self.segments:
            filled = _PLACEHOLDER.sub(lambda m: value(m, required=True), seg)
            if filled in (".", "..") and filled != seg:
                filled = filled.replace(".", "%2E")
            path.append(filled)
        query = []
        for key, template in self.query:
            names = placeholders(template)
            if names and all(n not in arguments or arguments[n] is None for n in names):
                continue  # an optional query value left out
            filled = _PLACEHOLDER.split(template)
            out = []
            for i, piece in enumerate(filled):  # odd pieces are placeholder names
                if i % 2:
                    out.append(value(_Match(piece), required=False))
                else:
                    out.append(quote(piece, safe=""))
            query.append(f"{quote(key, safe='')}={''.join(out)}")
        url = self.base + "/".join(path)
        return (url + "?" + "&".join(query) if query else url), used


class _Match:
    """The one method of re.Match that `fill` uses, for split-out placeholder names."""

    def __init__(self, name: str) -> None:
        self._name = name

    def group(self, index: int) -> str:
        return self._name


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError("placeholder values are strings, numbers or booleans")
