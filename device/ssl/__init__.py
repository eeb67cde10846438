"""The ssl service and what it is made of."""
