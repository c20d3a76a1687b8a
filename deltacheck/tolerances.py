"""The tolerance table (``deltacheck.core.tolerances``); ``python -m deltacheck.tolerances``
prints it as Markdown."""

from deltacheck._shim import forwarder

__getattr__ = forwarder(__name__, "deltacheck.core.tolerances", warn=False)

if __name__ == "__main__":
    from deltacheck.core.tolerances import markdown

    print(markdown(), end="")
