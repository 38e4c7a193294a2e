"""The HTTP server behind ``ganforge serve``: a FastAPI app, request batching and the web page.

``create_app(models, ServeConfig())`` builds the app for models loaded with ``load_models``; the page
lives in ``static/`` and is served by the same process.
"""

from ganforge.serve.app import create_app
from ganforge.serve.config import ServeConfig
from ganforge.serve.models import ServedModel, load_models

__all__ = ["create_app", "ServeConfig", "ServedModel", "load_models"]
