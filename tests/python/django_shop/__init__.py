"""A small Django app for test_django_orm.py (django-mongodb-backend)."""
