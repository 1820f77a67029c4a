from django.db import transaction
from django.http import JsonResponse

from henchman.django import enqueue_on_commit
from tests.django_project.shop import tasks
from tests.django_project.shop.jobs import mark_paid
from tests.django_project.shop.models import Order


def checkout(request):
    with transaction.atomic():
        order = Order.objects.create(email=request.GET.get("email", "a@example.com"))
        jid = enqueue_on_commit(mark_paid, order.pk)
    return JsonResponse({"order": order.pk, "jid": jid})


def add(request):
    result = tasks.add.enqueue(int(request.GET["a"]), int(request.GET["b"]))
    return JsonResponse({"id": result.id, "status": result.status})
