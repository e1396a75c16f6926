"""The web chat (Gradio): streaming answers, a sources panel, feedback and a library tab.

Built by ``build_web(service)`` and mounted on the FastAPI app of ``rag.server``; it only
calls the ``Service``. One module per job: ``labels`` (every word, in both languages),
``style`` (CSS, script, theme), ``page`` (the layout and its wiring), the handlers of
``asking``, ``past`` (saved conversations, ratings) and ``library``, and ``rendering``
(answers and sources as HTML, everything escaped).
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from rag.web.page import build_web  # noqa: E402
from rag.web.style import CSS, PAGE_SCRIPT, THEME  # noqa: E402

__all__ = ["CSS", "PAGE_SCRIPT", "THEME", "build_web"]
