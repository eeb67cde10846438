"""UserError: a mistake the user can fix (bad config, missing file); printed as one line, no traceback."""


class UserError(Exception):
    """Raised for problems in what the user gave us; the CLI prints `swivel: <message>` and exits 2."""
