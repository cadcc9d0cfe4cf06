"""Starting the demo: checks of the configuration, and orderdeck's app with the shops mounted and
the demo running beside it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import click
from starlette.applications import Starlette
from starlette.routing import Mount

from orderdeck.config import Settings, get_settings
from orderdeck.demo.shops import Address, DemoShop
from orderdeck.demo.catalogue import DEMO_CONNECTOR, DEMO_DATABASE_URL, SHOPS
from orderdeck.demo.activity import run_demo
from orderdeck.demo.centres import CENTRES, DemoCentre

log = logging.getLogger(__name__)

def demo_app(host: str, port: int, workers: int) -> Callable[[], Starlette]:
    """Prepare ``orderdeck serve --demo`` and return the app factory uvicorn should run.

    Call it before the settings are first read: without ORDERDECK_DATABASE_URL the demo uses its
    own database file. Raises click.ClickException for what the demo cannot run with.
    """
    try:
        if "database_url" not in get_settings().model_fields_set:
            os.environ["ORDERDECK_DATABASE_URL"] = DEMO_DATABASE_URL  # the one setting the demo chooses
            get_settings.cache_clear()
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"Invalid configuration: {exc}") from None
    if settings.broker_url is not None:
        raise click.ClickException(
            "The demo runs its jobs inside `orderdeck serve`, not through a broker: unset ORDERDECK_BROKER_URL to run it."
        )
    if workers != 1:
        raise click.ClickException("The demo runs in one process: leave out --workers")
    if not settings.is_sqlite and settings.secret_key is None:
        raise click.ClickException("The demo's channels store API secrets: set ORDERDECK_SECRET_KEY (32+ characters)")
    from orderdeck.plugins import manager

    try:
        manager.sandbox(DEMO_CONNECTOR)
    except manager.UnknownSandbox as exc:
        raise click.ClickException(f"The demo runs {DEMO_CONNECTOR} sandbox shops: {exc}") from None
    address = Address(host, port)
    return lambda: create_app(address, settings)


def create_app(address: Address, settings: Settings | None = None) -> Starlette:
    """orderdeck's app with the demo shops mounted under /demo/, and the demo running beside it."""
    from orderdeck.app import create_app as create_orderdeck_app

    shops = [DemoShop(spec, address) for spec in SHOPS]
    centres = [DemoCentre(spec, address) for spec in CENTRES]
    orderdeck_app = create_orderdeck_app(settings)
    _quiet_shop_traffic()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            for centre in centres:  # a mounted app's lifespan is its own to run (the warehouse's FTP server)
                await running.enter_async_context(centre.app.router.lifespan_context(centre.app))
            await running.enter_async_context(orderdeck_app.router.lifespan_context(orderdeck_app))
            task = asyncio.create_task(run_demo(shops, address, centres), name="orderdeck-demo")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                for client in [*(shop.control for shop in shops), *(centre.control for centre in centres)]:
                    await client.aclose()

    routes = [Mount(shop.path, app=shop.mounted) for shop in shops]
    routes += [Mount(centre.path, app=centre.mounted) for centre in centres]
    return Starlette(routes=[*routes, Mount("", app=orderdeck_app)], lifespan=lifespan)


class _NotShopTraffic(logging.Filter):
    """Leaves the shops' requests (orderdeck's channel calls, every few seconds) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) > 2 and str(args[2]).startswith("/demo/"))


def _quiet_shop_traffic() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NotShopTraffic) for f in access.filters):
        access.addFilter(_NotShopTraffic())
