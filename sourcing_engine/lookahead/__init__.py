"""Inventory-aware sourcing (issue 12): a demand forecast per region and SKU, and the
opportunity cost of each unit of stock read from a transportation LP over that forecast,
added to the myopic cost by the `lookahead` policy."""
