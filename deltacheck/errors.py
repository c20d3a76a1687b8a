"""The one exception deltacheck raises for bad input."""


class DeltacheckError(ValueError):
    """Bad user input; the message names the argument and how to fix it."""
