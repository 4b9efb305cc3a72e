from django.db import models
from django_mongodb_backend.fields import ArrayField, EmbeddedModelField
from django_mongodb_backend.managers import MongoManager
from django_mongodb_backend.models import EmbeddedModel


class Address(EmbeddedModel):
    city = models.CharField(max_length=50)
    zip = models.CharField(max_length=10)


class Customer(models.Model):
    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(null=True)
    address = EmbeddedModelField(Address, null=True)
    tags = ArrayField(models.CharField(max_length=20), null=True)
    created = models.DateTimeField(auto_now_add=True)
    objects = MongoManager()

    class Meta:
        app_label = "django_shop"
        indexes = [models.Index(fields=["email"])]


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total = models.DecimalField(max_digits=10, decimal_places=2)
    qty = models.IntegerField(default=1)
    status = models.CharField(max_length=10, default="new")

    class Meta:
        app_label = "django_shop"


class Item(models.Model):
    name = models.CharField(max_length=50)
    data = models.JSONField(null=True)
    price = models.FloatField(default=0)
    when = models.DateTimeField(null=True)
    owner = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="items")

    class Meta:
        app_label = "django_shop"
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=models.Q(price__gt=100), name="unique_expensive_name")
        ]
