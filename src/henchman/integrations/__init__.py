"""Optional integrations with other tools, each behind its own extra and imported only when used:
:mod:`henchman.integrations.prometheus` (``henchman[prometheus]``),
:mod:`henchman.integrations.otel` (``henchman[otel]``) and
:mod:`henchman.integrations.sentry` (the error-handler hook with ``sentry-sdk``)."""
