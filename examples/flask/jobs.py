"""The jobs of the Flask example (imported by the web app and by ``henchman run -r jobs``)."""

from __future__ import annotations

import henchman

app = henchman.default_app()


@henchman.job(queue="default", result_ttl=600)
def thumbnail(image_id: int) -> str:
    return f"/media/thumbs/{image_id}.png"
