"""Django's ORM on Argon through django-mongodb-backend, unmodified: the
schema editor makes the collections and indexes, then querysets exercise
lookups, joins ($lookup), aggregation, expressions, JSON fields, partial
unique constraints and transactions."""

import datetime
import decimal

import django
import pytest
from django.conf import settings


@pytest.fixture(scope="module")
def shop(server):
    settings.configure(
        DATABASES={
            "default": {"ENGINE": "django_mongodb_backend", "HOST": server.uri, "NAME": "django_shop"},
        },
        INSTALLED_APPS=["django_shop"],
        DEFAULT_AUTO_FIELD="django_mongodb_backend.fields.ObjectIdAutoField",
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
    django.setup()
    from django.db import connection
    from django_shop.models import Customer, Item, Order

    with connection.schema_editor() as editor:
        for model in (Customer, Order, Item):
            editor.create_model(model)
    yield
    connection.close()


def test_querysets_joins_aggregation_and_transactions(shop):
    from django.db import IntegrityError
    from django.db.models import Avg, Count, F, Max, Q, Sum, Value
    from django.db.models.functions import Concat, Length, Upper
    from django_mongodb_backend import transaction
    from django_shop.models import Address, Customer, Order

    ann = Customer.objects.create(
        name="Ann", email="ann@x.org", address=Address(city="Oslo", zip="0150"), tags=["vip", "eu"]
    )
    bob = Customer.objects.create(name="Bob", email="bob@x.org", address=Address(city="Rome", zip="00100"), tags=["eu"])
    Customer.objects.create(name="Cy")
    for i in range(5):
        Order.objects.create(
            customer=ann if i % 2 == 0 else bob,
            total=decimal.Decimal(f"{10 + i}.50"),
            qty=i + 1,
            status="new" if i < 3 else "paid",
        )

    names = lambda qs: list(qs.values_list("name", flat=True))  # noqa: E731
    assert names(Customer.objects.filter(name__icontains="an")) == ["Ann"]
    assert Customer.objects.filter(Q(name="Ann") | Q(email__isnull=True)).count() == 2
    assert names(Customer.objects.filter(address__city="Rome")) == ["Bob"]  # embedded model
    assert names(Customer.objects.filter(tags__contains=["vip"])) == ["Ann"]  # array field
    assert Order.objects.filter(customer__name="Ann").count() == 3  # a join
    assert Order.objects.aggregate(s=Sum("total"), a=Avg("qty"), m=Max("qty")) == {
        "s": decimal.Decimal("62.50"),
        "a": 3.0,
        "m": 5,
    }
    assert list(Customer.objects.annotate(n=Count("orders")).order_by("-n", "name").values_list("name", "n")) == [
        ("Ann", 3),
        ("Bob", 2),
        ("Cy", 0),
    ]
    assert list(Order.objects.values("status").annotate(n=Count("id"), q=Sum("qty")).order_by("status")) == [
        {"status": "new", "n": 3, "q": 6},
        {"status": "paid", "n": 2, "q": 9},
    ]
    assert Order.objects.filter(qty__gt=F("total") / 5).count() == 3
    Order.objects.filter(status="new").update(qty=F("qty") + 10)
    assert sorted(Order.objects.values_list("qty", flat=True)) == [4, 5, 11, 12, 13]
    assert list(
        Customer.objects.annotate(u=Upper("name"), n=Length("name"), c=Concat("name", Value("!")))
        .order_by("name")
        .values_list("u", "n", "c")
    ) == [("ANN", 3, "Ann!"), ("BOB", 3, "Bob!"), ("CY", 2, "Cy!")]
    assert [o.customer.name for o in Order.objects.select_related("customer").order_by("total")][:3] == [
        "Ann",
        "Bob",
        "Ann",
    ]
    assert Customer.objects.filter(orders__status="paid").distinct().count() == 2
    assert [c.name for c in Customer.objects.raw_aggregate([{"$match": {"name": "Bob"}}])] == ["Bob"]

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Customer.objects.create(name="Rolled back")
            raise RuntimeError("abort the transaction")
    assert not Customer.objects.filter(name="Rolled back").exists()
    with pytest.raises(IntegrityError):
        Customer.objects.create(name="Ann")

    ann.delete()  # CASCADE
    assert list(Order.objects.order_by("-total").values_list("total", flat=True)) == [
        decimal.Decimal("13.50"),
        decimal.Decimal("11.50"),
    ]


def test_json_fields_expressions_and_partial_unique(shop):
    from django.db import IntegrityError
    from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce, Greatest, Round, TruncMonth
    from django_shop.models import Customer, Item

    dee = Customer.objects.create(name="Dee")
    eve = Customer.objects.create(name="Eve")
    month = lambda m: datetime.datetime(2026, m, 15, tzinfo=datetime.timezone.utc)  # noqa: E731
    Item.objects.bulk_create(
        [
            Item(name="a", data={"color": "red", "size": 3, "tags": ["x"]}, price=5, when=month(1), owner=dee),
            Item(name="b", data={"color": "blue", "size": 5}, price=150, when=month(1), owner=eve),
            Item(name="c", data={"color": "red", "nested": {"k": 1}}, price=200, when=month(2), owner=dee),
            Item(name="d", data=None, price=50, when=month(3)),
        ]
    )
    names = lambda qs: sorted(qs.values_list("name", flat=True))  # noqa: E731
    assert names(Item.objects.filter(data__color="red")) == ["a", "c"]
    assert names(Item.objects.filter(data__has_key="size")) == ["a", "b"]
    assert names(Item.objects.filter(data__nested__k=1)) == ["c"]
    assert names(Item.objects.filter(data__size__gt=3)) == ["b"]
    cheap = Case(When(price__lt=100, then=Value(1)), default=Value(0), output_field=IntegerField())
    assert list(Item.objects.annotate(cheap=cheap).order_by("name").values_list("cheap", flat=True)) == [1, 0, 0, 1]
    assert list(
        Item.objects.annotate(o=Coalesce("owner__name", Value("none"))).order_by("name").values_list("o", flat=True)
    ) == ["Dee", "Eve", "Dee", "none"]
    by_month = Item.objects.annotate(m=TruncMonth("when")).values("m").annotate(n=Count("id")).order_by("m")
    assert [(row["m"].month, row["m"].day, row["m"].hour, row["n"]) for row in by_month] == [
        (1, 1, 0, 2),
        (2, 1, 0, 1),
        (3, 1, 0, 1),
    ]
    rich = Exists(Item.objects.filter(owner=OuterRef("pk"), price__gt=100))
    dearest = Subquery(Item.objects.filter(owner=OuterRef("pk")).order_by("-price").values("name")[:1])
    assert list(
        Customer.objects.filter(name__in=["Dee", "Eve"]).annotate(rich=rich, top=dearest).order_by("name")
        .values_list("name", "rich", "top")
    ) == [("Dee", True, "c"), ("Eve", True, "b")]
    assert list(
        Item.objects.annotate(r=Round(F("price") / 3, 1), g=Greatest("price", Value(60.0)))
        .order_by("name")
        .values_list("r", "g")
    ) == [(1.7, 60.0), (50.0, 150.0), (66.7, 200.0), (16.7, 60.0)]

    # The constraint is a partial unique index: only prices over 100 collide.
    with pytest.raises(IntegrityError):
        Item.objects.create(name="b", price=500)
    Item.objects.create(name="b", price=5)
    _, created = Item.objects.update_or_create(name="e", defaults={"price": 2})
    assert created
    _, created = Item.objects.update_or_create(name="e", defaults={"price": 3})
    assert not created and Item.objects.get(name="e").price == 3
    eve.delete()  # SET_NULL
    assert names(Item.objects.filter(owner__isnull=True)) == ["b", "b", "d", "e"]
    assert sum(1 for _ in Item.objects.iterator(chunk_size=2)) == 6  # getMore batches
