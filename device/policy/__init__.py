"""The policy service and what it is made of."""
