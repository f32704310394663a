"""The query parameters of a search, declared once for every route that searches: the search
page (`/search`), its feed (`/feeds/search.atom`) and its files (`/search.bib`, ...).

`SearchForm` is a FastAPI dependency (`Annotated[SearchParams, Depends(search_form)]` where an
empty query shows the empty form; `Depends(search_query)` where a query is required, a missing
or empty `q` being a validation error). Lengths are checked by FastAPI (a 422, or a 400 page);
dates and the mode are checked by the Library when the search runs (`InvalidInput`, a 400), so
the search page can show the error next to the form the visitor filled in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Query

Text = Annotated[str | None, Query(max_length=1000)]
Required = Annotated[str, Query(min_length=1, max_length=1000)]


@dataclass(frozen=True)
class SearchParams:
    """A search as asked for: every field is the text given ('' when absent)."""

    q: str = ""
    mode: str = ""
    since: str = ""
    until: str = ""
    category: str = ""
    organization: str = ""
    author: str = ""

    def form(self) -> dict[str, str]:
        """The fields as given, for refilling the search form and building links."""
        return asdict(self)

    def given(self) -> dict[str, str]:
        """The fields that were given (for a link to the same search)."""
        return {k: v for k, v in asdict(self).items() if v}

    def filters(self) -> dict[str, Any]:
        """`Library.search`'s keyword arguments besides the query and limit (white space around
        a value is dropped; an empty value is no filter)."""
        return {
            "mode": self.mode.strip() or None,
            "since": self.since.strip() or None,
            "until": self.until.strip() or None,
            "category": self.category.strip() or None,
            "organization": self.organization.strip() or None,
            "author": self.author.strip() or None,
        }


def _filters(
    mode: Text = None,
    since: Text = None,
    until: Text = None,
    category: Text = None,
    organization: Text = None,
    author: Text = None,
) -> SearchParams:
    given = (mode, since, until, category, organization, author)
    return SearchParams("", *(x or "" for x in given))


Filters = Annotated[SearchParams, Depends(_filters)]


def search_form(q: Text = None, *, filters: Filters) -> SearchParams:
    """The search page's parameters: no query is the empty form."""
    return replace(filters, q=q or "")


def search_query(q: Required, *, filters: Filters) -> SearchParams:
    """A feed's or file's parameters: the query is required."""
    return replace(filters, q=q)


SearchForm = Annotated[SearchParams, Depends(search_form)]
SearchQuery = Annotated[SearchParams, Depends(search_query)]
