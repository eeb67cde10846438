"""`swivel run`: launch the four services and the simulated world, show a live view, write a report."""
