"""``path("henchman/", include("henchman.django.urls"))``: the Web UI under ``/henchman/``."""

from __future__ import annotations

from django.urls import path, re_path

from henchman.django.web import web_view

app_name = "henchman"

urlpatterns = [
    path("", web_view, name="web"),
    re_path(r"^(?P<path>.+)$", web_view),
]
