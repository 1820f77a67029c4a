"""``python -m henchman`` is the ``henchman`` command."""

from henchman.cli.main import entry

entry()
