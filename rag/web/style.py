"""How the page looks: its CSS, the script it runs on load, the theme (local fonts only)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

CSS = """
.answer, .source, .passage, .note, textarea, .library-stats td {
  font-family: "Noto Sans", "Noto Naskh Arabic", "Noto Sans Arabic", system-ui, sans-serif;
  unicode-bidi: plaintext;
}
textarea { unicode-bidi: plaintext; }
.answer > div, .passage, .source header, .source .meta { text-align: start; }
.source { border-top: 1px solid #ddd; padding: .4em 0; }
.source .meta { color: #666; font-size: .85em; }
/* dark text on the light highlights, in both themes (white on yellow was unreadable) */
mark.quote { background: #fff3a8; color: #1a1a1a; }
mark.unsupported { background: #ffd6d6; color: #1a1a1a; text-decoration: underline wavy #c00; }
.note { color: #8a5300; }
.dark .note { color: #f2b866; }
.dark .source .meta { color: #b8b8b8; }
.dark .source { border-top-color: #444; }
/* a phone: the question box in the first view, a one-line title */
@media (max-width: 640px) {
  #chat { height: 38vh !important; min-height: 200px; }
  #title h2 { font-size: 1.15em; margin: 0; }
  #title { min-height: 0; flex: 1 1 100% !important; }
  .row:has(> #title) { flex-wrap: wrap !important; }
  [dir="rtl"] #title { padding-left: 28px; }  /* clear of the sidebar's toggle */
}
.mode { color: #888; font-size: .8em; }
#indexed .date { white-space: nowrap; }
a.marker { text-decoration: none; font-weight: 600; }
/* a marker's card: its source at a glance, on hover (desktop) or tap (phone) */
.cite { position: relative; }
.cite .card {
  display: none; position: absolute; z-index: 30; top: 1.5em; inset-inline-start: -1em;
  width: min(24em, 75vw); padding: .5em .7em; border-radius: 6px; font-size: .85em;
  font-weight: normal; line-height: 1.4; white-space: normal;
  background: #ffffff; color: #1a1a1a; border: 1px solid #ccc;
  box-shadow: 0 4px 14px rgba(0, 0, 0, .2);
}
.dark .cite .card { background: #2a2a2e; color: #f0f0f0; border-color: #555; }
.cite:hover .card, .cite:focus-within .card { display: block; }
.card strong, .card .meta, .card .card-quote { display: block; }
.card .card-quote { margin-top: .3em; }
pre.plain-text { display: none !important; }
details.answer-sources { margin-top: .6em; font-size: .9em; }
details.answer-sources summary { cursor: pointer; font-weight: 600; }
.source.emphasised { outline: 2px solid #c98a00; outline-offset: 2px; }
/* on a phone each answer's sources are folded under it; the side panel would repeat them */
@media (max-width: 640px) { #sources { display: none; } }
/* the chat's own toolbar floats over the messages: give it a ground of its own */
#chat .top-panel { background: var(--block-background-fill); border-radius: 6px; }
/* a touch screen has no hover: a tap opens the source itself under the answer instead */
@media (hover: none) { .cite .card { display: none !important; } }
"""

PAGE_DIRECTION = """(lang, ...others) => {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  return [lang, ...others];
}"""

# the page's own script (markers, plain-text copy, accessible names): run once on load
PAGE_SCRIPT = (Path(__file__).parent.parent / "data" / "chat.js").read_text(encoding="utf-8")

THEME = gr.themes.Default(
    # local fonts only: the page must not reach for a font server (offline, no tracking)
    font=["Noto Sans", "Noto Naskh Arabic", "system-ui", "sans-serif"],
    font_mono=["DejaVu Sans Mono", "monospace"],
)
