"""The one exception deltacheck raises for bad input."""


class DeltacheckError(ValueError):
    """Bad user input; the message names the argument and how to fix it."""


def exception_text(exc: BaseException) -> str:
    """The exception's message on one line, even when a user's ``__str__`` raises."""
    try:
        return " ".join(str(exc).split())
    except Exception:  # a broken __str__ in user code must not end the run
        return "<unprintable>"
