"""The FastAPI application: the web pages, the health check and each part's HTTP routes.

Build it with :func:`joinedup.api.app.create_app`. This package module imports nothing, so
the pages in :mod:`joinedup.web` can use :mod:`joinedup.api.deps` without an import cycle.
"""
