"""The access broker: requests for offers that need the owner's approval, and owners' webhooks."""
