"""Fulfilment centres and drop shippers: the orders allocated to their locations go out to them,
their reports come back.

- ``locations``: making a location a fulfilment centre served by a fulfilment connection, with
  its options (deduct stock when processed, export columns, export file name pattern).
- ``exports``: the export work (services.work EXPORT), on the shared outbox loop
  (services.runs.outbound_run): each run hands the open, paid, unheld orders at the centre's
  locations that are not yet exported to the connector, a batch per file (or POST). Success sets
  the order's label-printed flag, when and in which file it went, and locks it in
  (FulfilmentState.EXPORTED: it cannot be moved, edited, cancelled or processed by hand until the
  centre reports it cancelled); a failure sets the label error with the partner's message and is
  tried again with backoff.
- ``imports``: the status and stock imports (STATUS_IMPORT, STOCK_IMPORT), periodic on the
  connection's schedule: shipped orders are processed with the centre's carrier and tracking
  (their dispatch goes to the channel as for any processed order), cancelled ones are released
  (open and movable again), errors are kept on the order; stock levels are set at the centre's
  locations. Each report is applied once: recorded by name and content hash, then consumed.

An order is exported once. A repeated or duplicated export job finds nothing to send: the orders
are claimed (export_claimed_at) under the connection's EXPORT run claim, and marked EXPORTED in
the transaction that records the connector's answer. The one exception is a crash between the
upload and that commit: the next run takes the same orders over (they are still claimed, by a
run that is gone) and sends them again as the same batch, under the same file name (made from
the batch's order ids), so the centre recognises the repeat (the FTP warehouse ignores a file
name it has taken; the URL drop shipper answers a repeated idempotency key with the first
batch's result).
"""
