"""Server middleware: the chain around every job's ``perform``."""

from henchman.middleware.chain import Chain, JobRun, Middleware

__all__ = ["Chain", "JobRun", "Middleware"]
