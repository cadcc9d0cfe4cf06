"""Live: subscriptions to order events, stock levels and sync progress (graphql-transport-ws)."""
