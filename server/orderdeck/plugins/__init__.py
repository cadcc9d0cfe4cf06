"""The plugin system: channels and fulfilment centres are pluggy plugins (see hookspecs)."""
