from django.contrib import admin
from django.urls import include, path

from tests.django_project.shop import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobs/", include("henchman.django.urls")),
    path("checkout/", views.checkout),
    path("add/", views.add),
]
