"""Swivel: the software that runs on the Pi of a screen that turns to face its user."""
