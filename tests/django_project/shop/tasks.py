"""Django Tasks (``@task``) run by henchman workers through henchman.django.TaskBackend."""

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task


@task
def add(a, b):
    return a + b


@task(queue_name="emails")
def send_receipt(order_id, *, subject="Your receipt"):
    return {"order": order_id, "subject": subject}


@task
def explode():
    raise ValueError("no such customer")


@task
async def add_later(a, b):
    return a + b


@task(takes_context=True)
def attempt_number(context):
    return context.attempt
