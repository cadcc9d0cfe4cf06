"""The module ``orderdeck worker`` hands to Dramatiq's worker processes.

It declares the actors on the configured broker, runs async actors on Dramatiq's event-loop
thread (AsyncIO) and opens the database on that loop once the worker has booted (Database).
"""

from __future__ import annotations

from dramatiq.middleware import AsyncIO

from orderdeck.config import get_settings
from orderdeck.jobs import actors  # noqa: F401 - declares the actors
from orderdeck.jobs.broker import Database, broker

broker.add_middleware(AsyncIO())
broker.add_middleware(Database(get_settings().database_url))
