"""The ``henchman`` command line: a thin layer over the api and server packages."""
