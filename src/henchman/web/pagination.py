"""Server-side pagination: every list in the UI reads one page from Redis, never the whole list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Pager"]

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
_MAX_PAGE = 10**9


@dataclass(frozen=True, slots=True)
class Pager:
    """Page ``page`` (from 1) of ``per_page`` items; ``total`` is None when unknown (filtered
    scans), then only ``has_next`` says whether a next page exists."""

    page: int
    per_page: int
    total: int | None
    url: Callable[[int], str]
    has_next: bool = False

    @classmethod
    def of(
        cls,
        page: int,
        per_page: int,
        total: int | None,
        url: Callable[[int], str],
        has_next: bool = False,
    ) -> Pager:
        page = min(max(page, 1), _MAX_PAGE)
        if total is not None:
            has_next = page * per_page < total
        return cls(page, per_page, total, url, has_next)

    @property
    def offset(self) -> int:
        """Items before this page."""
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int | None:
        """Number of pages (at least 1), or None when the total is unknown."""
        if self.total is None:
            return None
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def needed(self) -> bool:
        """Whether there is more than one page to link to."""
        return self.page > 1 or self.has_next

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: first, last and ``around`` either side of the current page;
        ``None`` marks a gap."""
        last = self.pages or (self.page + (1 if self.has_next else 0))
        wanted = {1, last, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= last)
        shown: list[int | None] = []
        for number in numbers:
            previous = shown[-1] if shown else None
            if previous is not None and number - previous > 1:
                shown.append(None)
            shown.append(number)
        return shown
