"""Explanations of sourcing decisions, from the engine's own numbers: one order's plan
itemized, the plans it did not get, why nearer or cheaper nodes did not ship, what the
rules would have cost (order.py); the batch's shadow prices and the orders it sourced
away from their own cheapest plan (batch.py); a summary to read aloud (summary.py)."""
