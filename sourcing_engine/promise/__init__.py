"""Checkout's questions: delivery options with their dates and costs, pickup, ship-to-store,
what is coming; node calendars and carriers' service levels."""
