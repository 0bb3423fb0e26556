"""``python -m hookline``: the same as the ``hookline`` command."""

from .cli import main

main()
