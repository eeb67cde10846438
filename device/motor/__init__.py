"""The motor service and what it is made of."""
