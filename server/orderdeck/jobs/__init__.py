"""Background work on Dramatiq: the broker (broker.py), the jobs (actors.py), the scheduler
(scheduler.py), the in-process worker of the embedded default (embedded.py) and the module
worker processes load (worker.py). Jobs are thin: the work is in the services."""
