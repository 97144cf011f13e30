"""Webhooks: subscriptions (subscriptions.py), Standard Webhooks signatures (signing.py) and
the deliverer that posts the event feed to each subscription (deliverer.py)."""
