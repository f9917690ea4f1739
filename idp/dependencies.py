"""FastAPI dependency aliases, so routes read as plain typed parameters.

The database session dependency owns the transaction: it commits after the route returns and
before the response is sent (``scope="function"``), and rolls back when the route raises, so a
refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import Request

from idp.context import ProviderContext
from idp.web.browser import Browser


def get_context(request: Request) -> ProviderContext:
    context: ProviderContext = request.app.state.provider
    return context


ContextDep = Annotated[ProviderContext, Depends(get_context)]


def get_db(context: ContextDep) -> Iterator[Session]:
    with context.database.transaction() as session:
        yield session


DbDep = Annotated[Session, Depends(get_db, scope="function")]


def get_browser(request: Request, db: DbDep, context: ContextDep) -> Browser:
    return Browser.from_request(request, db, context)


BrowserDep = Annotated[Browser, Depends(get_browser)]
