"""Server-rendered pages on the NHS.UK design system.

Templates extend the ``nhsuk-frontend-jinja`` page template; the styles, scripts and icons
come from the ``nhsuk-frontend`` npm package, copied into ``static/nhsuk/`` by
``scripts/install-frontend.sh``. The routes are in :mod:`joinedup.web.pages`.
"""

from pathlib import Path

#: Our own templates (``base.html`` and the pages).
TEMPLATES_DIR = Path(__file__).parent / "templates"
#: Static files served under ``/static``: our small stylesheet and the nhsuk-frontend build.
STATIC_DIR = Path(__file__).parent / "static"
#: The nhsuk-frontend build (git-ignored; made by ``scripts/install-frontend.sh``).
NHSUK_DIR = STATIC_DIR / "nhsuk"
#: Its icons, favicons and manifest, served under ``/assets`` where its stylesheet expects them.
NHSUK_ASSETS_DIR = NHSUK_DIR / "assets"

__all__ = ["NHSUK_ASSETS_DIR", "NHSUK_DIR", "STATIC_DIR", "TEMPLATES_DIR"]
