"""The vision service and what it is made of."""
