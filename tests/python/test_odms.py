"""Python ODMs on Argon, unmodified: mongoengine (pymongo underneath) and
Beanie (pymongo's async client). Each drives its own database through
the ODM's public API and checks what comes back."""

import asyncio
import datetime
from typing import List, Optional

import mongoengine as me
import pymongo
import pytest
from beanie import Document as BeanieDocument
from beanie import Indexed, Link, WriteRules, init_beanie
from beanie.operators import In, Inc, Push, Set
from pydantic import BaseModel


class Person(me.Document):
    email = me.EmailField(required=True, unique=True)
    name = me.StringField(max_length=50)
    age = me.IntField(min_value=0)
    tags = me.ListField(me.StringField())
    joined = me.DateTimeField(default=datetime.datetime(2026, 1, 1))
    meta = {"indexes": ["name", ("age", "-name"), "$name"]}


class Note(me.EmbeddedDocument):
    text = me.StringField()
    by = me.ReferenceField(Person)


class Post(me.Document):
    title = me.StringField(required=True)
    author = me.ReferenceField(Person, reverse_delete_rule=me.CASCADE)
    notes = me.ListField(me.EmbeddedDocumentField(Note))
    meta = {"allow_inheritance": True}


class LinkPost(Post):
    url = me.URLField()


@pytest.fixture()
def mongoengine_db(server, db):
    me.connect(db=db.name, host=server.uri, alias="default")
    yield db
    me.disconnect(alias="default")


def test_mongoengine_documents_references_and_queries(mongoengine_db):
    ann = Person(email="ann@x.org", name="Ann", age=30, tags=["x"]).save()
    bob = Person(email="bob@x.org", name="Bob", age=25).save()
    with pytest.raises(me.NotUniqueError):
        Person(email="ann@x.org", name="Other").save()
    with pytest.raises(me.ValidationError):
        Person(email="not an email").save()

    Post(title="hello", author=ann, notes=[Note(text="nice", by=bob)]).save()
    LinkPost(title="link", author=bob, url="http://example.org").save()
    assert Post.objects.count() == 2
    assert LinkPost.objects.count() == 1  # inheritance: filtered by _cls
    assert [p.title for p in Post.objects(author=ann)] == ["hello"]
    assert Post.objects(title="hello").first().notes[0].by.name == "Bob"  # dereferenced

    Person.objects(name="Ann").update_one(inc__age=1, push__tags="y")
    fresh = Person.objects.get(email="ann@x.org")
    assert (fresh.age, fresh.tags) == (31, ["x", "y"])
    assert Person.objects(age__gte=26).count() == 1
    assert list(Person.objects.order_by("-age").scalar("name")) == ["Ann", "Bob"]
    assert Person.objects(name__icontains="an").count() == 1
    assert Person.objects.search_text("Ann").count() == 1
    assert list(Person.objects.aggregate([{"$group": {"_id": None, "avg": {"$avg": "$age"}}}])) == [
        {"_id": None, "avg": 28.0}
    ]
    assert sorted(Person.objects.distinct("name")) == ["Ann", "Bob"]
    # item_frequencies runs a mapReduce whose map assigns an undeclared
    # variable: mongod's JavaScript is not in strict mode.
    assert Person.objects.item_frequencies("tags") == {"x": 1, "y": 1}
    assert Person.objects(name="Bob").modify(set__age=26, new=True).age == 26

    bob.delete()  # CASCADE: Bob's posts go with him
    assert [p.title for p in Post.objects] == ["hello"]
    assert set(Person._get_collection().index_information()) == {
        "_id_",
        "email_1",
        "name_1",
        "age_1_name_-1",
        "name_text",
    }


class Tag(BaseModel):
    name: str


class Writer(BeanieDocument):
    name: Indexed(str, unique=True)
    age: int = 0

    class Settings:
        name = "writers"


class Book(BeanieDocument):
    title: str
    year: int
    tags: List[Tag] = []
    writer: Optional[Link[Writer]] = None
    price: float = 0.0

    class Settings:
        name = "books"
        indexes = [[("year", pymongo.DESCENDING), ("title", pymongo.ASCENDING)]]
        use_revision = True


def test_beanie_links_updates_and_transactions(server, db):
    async def scenario():
        client = pymongo.AsyncMongoClient(server.uri)
        try:
            await init_beanie(database=client[db.name], document_models=[Writer, Book])
            le_guin = Writer(name="Le Guin", age=88)
            await Book(title="Earthsea", year=1968, tags=[Tag(name="fantasy")], writer=le_guin, price=9.5).insert(
                link_rule=WriteRules.WRITE
            )
            await Book(title="Dispossessed", year=1974, writer=le_guin).insert()
            with pytest.raises(pymongo.errors.DuplicateKeyError):
                await Writer(name="Le Guin").insert()

            assert [b.title for b in await Book.find(Book.year > 1970).to_list()] == ["Dispossessed"]
            fetched = await Book.find_one(Book.title == "Earthsea", fetch_links=True)
            assert fetched.writer.name == "Le Guin"
            assert await Book.find(In(Book.year, [1968, 1974])).count() == 2
            await Book.find_one(Book.title == "Earthsea").update(
                Inc({Book.price: 1}), Push({Book.tags: {"name": "classic"}})
            )
            earthsea = await Book.find_one(Book.title == "Earthsea")
            assert (earthsea.price, [t.name for t in earthsea.tags]) == (10.5, ["fantasy", "classic"])
            # Links are stored as DBRefs; grouping on `$writer.$id` is allowed.
            per_writer = await Book.aggregate([{"$group": {"_id": "$writer.$id", "n": {"$sum": 1}}}]).to_list()
            assert per_writer == [{"_id": le_guin.id, "n": 2}]
            newest = await Book.find(fetch_links=True).sort(-Book.year).limit(1).to_list()
            assert newest[0].title == "Dispossessed" and newest[0].writer.name == "Le Guin"

            async with client.start_session() as session:
                async with await session.start_transaction():
                    await Writer(name="In a transaction").insert(session=session)
                    await Book.find(Book.year == 1974).update(Set({Book.price: 3}), session=session)
            assert await Writer.find(Writer.name == "In a transaction").count() == 1
            assert (await Book.find_one(Book.year == 1974)).price == 3

            await Book.find(Book.year < 1970).delete()
            assert await Book.distinct("year") == [1974]
        finally:
            await client.close()

    asyncio.run(scenario())
