"""How the page looks: its CSS, the script it runs on load, the theme (local fonts only)."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from rag.web.labels import LABELS

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
/* a phone: the conversation owns the screen (as on ChatGPT's mobile page): one header line
   (title and language), one line of what is indexed, the chat down to the question box */
@media (max-width: 640px) {
  #chat { height: calc(100dvh - 330px) !important; min-height: 240px; }
  #title h2 { font-size: 1.05em; margin: 0; }
  .row:has(> #title) { flex-wrap: nowrap !important; align-items: center; gap: 6px; }
  #title { min-width: 0 !important; flex: 1 1 auto !important; padding: 0 !important; }
  [dir="rtl"] #title { padding-left: 28px !important; }  /* clear of the sidebar's toggle */
  .form:has(> #ui-language) { min-width: 0 !important; flex: 0 0 auto !important;
                              border: none; background: none; }
  #ui-language { flex: 0 0 auto !important; width: max-content !important; padding: 0 !important;
                 border: none; overflow: visible !important; }
  #ui-language > [data-testid="block-info"], #question [data-testid="block-info"] {
    position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
  }  /* out of sight, still the controls' names */
  #ui-language label { padding: 2px 8px; font-size: .85em; }
  #ui-language > .wrap:not([data-testid]) { gap: 4px; flex-wrap: nowrap; }
  #indexed p { font-size: .78em; margin: 0; white-space: nowrap; overflow: hidden;
               text-overflow: ellipsis; }  /* the Library tab has it whole */
  .row:has(> #send) { flex-wrap: nowrap !important; }
  .row:has(> #send) > button { min-width: 0 !important; }
  #question { padding: 6px !important; }
  .note { font-size: .85em; margin-block: .3em; }
}
/* a past conversation: one line, in its title's direction, cut where the title ends */
#history label { max-width: 100%; }
#history label > span {
  display: block; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  unicode-bidi: plaintext; text-align: start;
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
.cite.dismissed .card { display: none !important; }  /* clicked: the source is open instead */
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

# run in the browser as the interface language changes, and once the page has changed
PAGE_DIRECTION = """(lang, ...others) => {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
  if (window.ragNews) window.ragNews.switchingLanguage(lang);
  return [lang, ...others];
}"""
LANGUAGE_SWITCHED = "() => { if (window.ragNews) window.ragNews.languageSwitched(); }"

# the page's own script (markers, plain-text copy, accessible names): run once on load
PAGE_SCRIPT = (
    (Path(__file__).parent.parent / "data" / "chat.js")
    .read_text(encoding="utf-8")
    .replace("__UPLOAD_WORDS__", json.dumps({
        lang: {word: LABELS[lang][f"upload_{word}"] for word in ("drop", "or", "click", "name")}
        for lang in LABELS
    }, ensure_ascii=False))
)  # fmt: skip

THEME = gr.themes.Default(
    # local fonts only: the page must not reach for a font server (offline, no tracking)
    font=["Noto Sans", "Noto Naskh Arabic", "system-ui", "sans-serif"],
    font_mono=["DejaVu Sans Mono", "monospace"],
)
