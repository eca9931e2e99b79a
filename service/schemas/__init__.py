"""Marshmallow schemas: the shape and limits of every request and answer."""
