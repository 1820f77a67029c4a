"""Ruby Sidekiq: the client is Ruby too (``sidekiq/client.rb``); this module only calls it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from record import URL

CLIENT = Path(__file__).with_name("sidekiq") / "client.rb"


def run_client(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        ["ruby", str(CLIENT), *argv],
        env={**os.environ, "REDIS_URL": URL},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
