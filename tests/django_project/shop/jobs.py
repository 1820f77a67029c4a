"""henchman jobs of the shop app, imported by ``henchman run --django``."""

import henchman
from tests.django_project.shop.models import Order


@henchman.job
def mark_paid(order_id):
    Order.objects.filter(pk=order_id).update(status="paid")
