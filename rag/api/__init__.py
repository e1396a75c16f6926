"""The versioned JSON API (``/v1``), health, metrics, and an OpenAI-compatible chat endpoint.

Every error is JSON: ``{"error": {"code": "...", "message": "..."}}`` with a stable code;
no traceback and no server path reaches a client. Who may call what, and how often, is
decided by the service's door (``rag.service``, ``rag.access``), the same for the web chat,
Slack and the CLI. Keys come from settings and are never logged.

One module per job: ``routes`` (each route, a module-level function), ``bodies`` (request
bodies), ``errors`` (every error as JSON, body limits), ``streams`` (server-sent events,
OpenAI chunks) and ``contract`` (what ``/openapi.json`` says, 405 for other methods).
"""

from rag.api.contract import install_method_check
from rag.api.errors import ACCESS_STATUS, install_error_handlers, install_limits, refusal_response
from rag.api.routes import install

__all__ = [
    "ACCESS_STATUS",
    "install",
    "install_error_handlers",
    "install_limits",
    "install_method_check",
    "refusal_response",
]
