"""The data plugins see and return: plain, typed, documented dataclasses (the public plugin API).

Plugins never import orderdeck's models or services; they receive and return these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PluginKind(str, Enum):
    """What a plugin connects orderdeck to."""

    CHANNEL = "CHANNEL"
    FULFILMENT_CENTRE = "FULFILMENT_CENTRE"
    OTHER = "OTHER"


@dataclass(frozen=True)
class PluginInfo:
    """How a plugin describes itself.

    name: a short unique identifier, e.g. "woocommerce" (used in channel configuration).
    title: the human name, e.g. "WooCommerce".
    """

    name: str
    title: str
    kind: PluginKind
    version: str = "0"
    description: str = ""
