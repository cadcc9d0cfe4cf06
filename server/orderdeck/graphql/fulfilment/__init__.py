"""The fulfilment area of the GraphQL API: fulfilment connections and a location's fulfilment settings."""
