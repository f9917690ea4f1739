"""FastAPI dependency aliases, so routes read as plain typed parameters.

The database session dependency owns the transaction: it commits after the route returns and
before the response is sent (``scope="function"``), and rolls back when the route raises, so a
refused request changes nothing.

The dependencies are ``async`` and do no I/O of their own: FastAPI runs a synchronous
dependency in the thread pool, and one hop there costs about as much CPU as a simple request's
own work (0.1 to 0.2 ms). The database work happens in the synchronous route's thread; the
commit takes one more hop, and only when the route began a transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from idp.context import ProviderContext
from idp.web.browser import Browser


async def get_context(request: Request) -> ProviderContext:
    context: ProviderContext = request.app.state.provider
    return context


ContextDep = Annotated[ProviderContext, Depends(get_context)]


async def get_db(context: ContextDep) -> AsyncIterator[Session]:
    session = context.database.session()  # no connection yet: that comes with the first query
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def _end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and give the connection back to the pool, in one thread hop; a
    session that never began a transaction holds no connection and needs no hop."""
    if not session.in_transaction():
        session.close()
        return

    def end() -> None:
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    await run_in_threadpool(end)


DbDep = Annotated[Session, Depends(get_db, scope="function")]


async def get_browser(request: Request, db: DbDep, context: ContextDep) -> Browser:
    return Browser.from_request(request, db, context)


BrowserDep = Annotated[Browser, Depends(get_browser)]


Result = TypeVar("Result")


async def run_in_transaction(
    request: Request, work: Callable[[Session, ProviderContext], Result]
) -> Result:
    """The busiest protocol routes (token, UserInfo) call this instead of taking ``DbDep``:
    their synchronous work and its transaction (committed when ``work`` returns, rolled back
    when it raises) run in one thread-pool hop, and FastAPI has no dependency to solve, which
    was a third of a simple request's CPU."""
    context: ProviderContext = request.app.state.provider

    def run() -> Result:
        with context.database.transaction() as session:
            return work(session, context)

    return await run_in_threadpool(run)
