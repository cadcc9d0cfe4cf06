"""Tests of the built-in channel plugins, over real HTTP against their sandboxes."""
