"""Pushing jobs: pure planning (:mod:`.plan`) behind thin sync and asyncio shells."""

from henchman.client.aio import AsyncClient
from henchman.client.plan import PushPlan
from henchman.client.sync import Client

__all__ = ["AsyncClient", "Client", "PushPlan"]
