"""Job results, opt-in: a job defined with ``result_ttl=SECONDS`` keeps its status, attempts,
timestamps, errors and JSON return value in Redis for that long after each change.

- :mod:`henchman.results.record`: the record's fields and the pure decisions (what a start, a
  success or a failure changes);
- :mod:`henchman.results.middleware`: the server middleware that writes the start of each run
  and checks the return value (a value that is not JSON fails the job, like a bad argument);
- :mod:`henchman.results.finisher`: writes the outcome in the same atomic step as the job's
  acknowledgement;
- ``henchman.api.JobResult`` reads a record (``wait()``, and ``await ...`` twins).
"""

from henchman.results.record import FINISHED, STATUSES, ResultRecord

__all__ = ["FINISHED", "STATUSES", "ResultRecord"]
