"""The jobs of the FastAPI example (imported by the web app and by ``henchman run -r jobs``)."""

from __future__ import annotations

import henchman

#: One app for both sides; its settings come from the environment (HENCHMAN_REDIS_URL).
app = henchman.default_app()


@henchman.job(queue="default", result_ttl=3600)
def build_report(customer_id: int) -> dict[str, int]:
    """Keeps its return value for an hour, so the web app can show it."""
    return {"customer": customer_id, "orders": customer_id * 3}
