"""Fulfillment sourcing engine: the domain (network, stock, orders, plans) and the CLI."""

__version__ = "0.1.0"
