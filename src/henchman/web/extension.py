"""Pages, actions and extensions: the one way anything is added to the Web UI.

The built-in pages are declared with these same classes, so an extension's page gets everything
a built-in page gets: the layout and navigation, authentication, CSRF checks on its actions, the
read-only switch (actions answer 403 and ``read_only`` is true in templates) and autoescaping.

A view is a plain synchronous function run in a worker thread (the admin API is synchronous); it
receives a :class:`~henchman.web.context.ViewContext` and returns a response, usually
``ctx.render(...)``. An action handles a POST and returns ``ctx.redirect(...)``::

    from henchman.web import Action, Page, WebExtension

    def widgets(ctx):
        names = sorted(m.decode() for m in ctx.redis.smembers("widgets"))
        return ctx.render("widgets.html", title="Widgets", names=names)

    def add_widget(ctx):
        ctx.redis.sadd("widgets", ctx.form_value("name"))
        return ctx.redirect("widgets")

    extension = WebExtension(
        name="widgets",
        pages=[Page("/widgets", widgets, tab="Widgets")],
        actions=[Action("/widgets", add_widget)],
        templates="path/to/templates",       # widgets.html: {% extends "layout.html" %}
    )
    app = henchman.web.create_app(settings, extensions=[extension])

Path parameters (``/widgets/{wid}``) are checked before the view runs, for every page and
action: by the parser the page declares in ``params`` (``params={"wid": int}``; a parser raising
``ValueError`` or :class:`NotFound` makes the request a 404 and the view never runs; the parsed
value is what ``ctx.params`` holds), else by :func:`text_param` (no control characters). A view
that finds nothing raises :class:`NotFound` (or returns ``ctx.not_found(...)``): a 404 page,
never a 500.

Extension templates are looked up after henchman's, so a template name must not shadow one of
henchman's (prefix it with the extension's name when in doubt).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.responses import Response

    from henchman.web.context import ViewContext

__all__ = ["Action", "NotFound", "Page", "ParamParser", "View", "WebExtension", "text_param"]

#: A view or action: called in a worker thread with the request's context.
View = Callable[["ViewContext"], "Response"]
#: Turns one path parameter's text into the value a view gets; raises ``ValueError`` if invalid.
ParamParser = Callable[[str], object]
#: The longest path parameter :func:`text_param` accepts.
MAX_PARAM_LENGTH = 2048


class NotFound(Exception):
    """Raised by a view or a parameter parser: the request is answered with a 404 page saying
    ``message``, with a link back to ``back`` (a path in the UI)."""

    def __init__(self, message: str, back: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.back = back


def text_param(value: str) -> str:
    """The default parser: any text without control characters, at most 2048 characters."""
    if not value or len(value) > MAX_PARAM_LENGTH:
        raise ValueError("empty or too long")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("holds control characters")
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """A GET page at ``path`` (Starlette syntax: ``/batches/{bid}``), relative to the UI root.

    ``tab`` puts a link in the navigation (only for paths without parameters).
    """

    path: str
    view: View
    tab: str | None = None
    #: Parsers of path parameters (see the module docstring); others get :func:`text_param`.
    params: Mapping[str, ParamParser] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Action:
    """A POST handler at ``path``: runs only with a valid CSRF token and never in read-only
    mode. It should answer with ``ctx.redirect(...)`` (303, back to a page)."""

    path: str
    handler: View
    #: Parsers of path parameters, as for :class:`Page`.
    params: Mapping[str, ParamParser] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebExtension:
    """A named bundle of pages, actions and (optionally) a directory of templates."""

    name: str
    pages: Sequence[Page] = ()
    actions: Sequence[Action] = ()
    templates: str | Path | None = None
    #: Extra Jinja globals for this extension's templates (e.g. formatting helpers).
    template_globals: dict[str, object] = field(default_factory=dict)
