"""HTTP routes, one module per part; :mod:`joinedup.api.app` includes their routers."""
