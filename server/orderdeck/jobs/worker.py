"""The module ``orderdeck worker`` hands to Dramatiq's worker processes.

It declares the actors on the configured broker, runs async actors on Dramatiq's event-loop
thread (AsyncIO), opens the database on that loop once the worker has booted (Database), and
sends the jobs that its own commits call for (a download that reserves stock wakes the stock
push).
"""

from __future__ import annotations

from dramatiq.middleware import AsyncIO

from orderdeck.config import get_settings
from orderdeck.jobs import actors
from orderdeck.jobs.broker import Database, broker
from orderdeck.plugins import manager

# Database after AsyncIO: it opens the connections once AsyncIO's "before" hook has started the
# loop, and (Dramatiq calls "after" hooks in reverse order) closes them before AsyncIO stops it.
broker.add_middleware(AsyncIO())
broker.add_middleware(Database(get_settings().database_url))
actors.start_sending()
manager.report_problems()
