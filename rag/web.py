"""The web chat (Gradio): streaming answers, a sources panel, feedback and a library tab.

Built by ``build_web(service)`` and mounted on the FastAPI app of ``rag.server``; it only
calls the ``Service``. Every text from an article or an answer is escaped (``web_html``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict
from html import escape, unescape
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402

from rag.access import SESSION_COOKIE, AccessError, Caller, bearer_key  # noqa: E402
from rag.answering import short_list  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.question import MAX_QUESTION_CHARS  # noqa: E402
from rag.retrieval import Filters  # noqa: E402
from rag.service import Service  # noqa: E402
from rag.types import (  # noqa: E402
    Answer,
    is_iso_date,  # noqa: E402
)
from rag.web_html import (  # noqa: E402
    answer_html,
    counted,
    feeds_html,
    sources_html,
    stats_html,
    totals_text,
)

log = logging.getLogger(__name__)

EXAMPLES = ["What did Araghchi say about enrichment?", "ماذا قال عراقجي عن التخصيب؟"]
BROWSER_ID = re.compile(r"[0-9a-f]{32}")
UPLOAD_TYPES = [".txt", ".md", ".json", ".jsonl", ".gz", ".html", ".htm"]

LABELS = {
    "en": {
        "title": "News Q&A with citations",
        "chat_tab": "Chat",
        "library_tab": "Library",
        "question": "Your question",
        "placeholder": "Ask about the news, in Arabic or English…",
        "send": "Ask",
        "stop": "Stop",
        "new_chat": "New chat",
        "filters": "Filters",
        "source_filter": "Newspaper / source",
        "date_from": "From (YYYY-MM-DD)",
        "date_to": "To (YYYY-MM-DD)",
        "examples": "Examples",
        "sources": "Sources",
        "also_retrieved": "Also retrieved, not cited ({n})",
        "no_sources": "Sources of the answer appear here.",
        "none_answers": "None of the indexed articles answers this question.",
        "bad_date": "“{value}” is not a date: write it as 2015-07-21.",
        "empty_range": "No indexed article matches these filters (source and dates).",
        "unsupported": "Not supported by the cited source",
        "mode_generated": "Written by a language model from the sources",
        "too_long": "The question is too long: {n} characters, the limit is {limit}.",
        "thanks": "Thank you, your feedback was saved.",
        "failed": "Something went wrong while answering; please try again.",
        "feeds": "News feeds",
        "feed_url": "Feed address (RSS, Atom, JSON Feed or news sitemap)",
        "feed_add": "Follow",
        "feed_poll": "Fetch all now",
        "feed_remove": "Stop following",
        "feed_added": "Following {title} ({kind}); its articles arrive at the next fetch.",
        "feed_removed": "No longer following {url}; its articles stay in the library.",
        "feed_polled": "Fetched {n} feeds: {new} new and {updated} updated articles.",
        "no_feed_url": "Write a feed's address first.",
        "no_feeds": "No feeds followed yet.",
        "feeds_admin_only": "Feeds are managed with an admin key.",
        "feed_columns": "Feed|Status|Last fetch|New|Updated|Failed|Last error",
        "add_title": "Title",
        "add_text": "Article text",
        "add_source": "Source",
        "add_date": "Date (YYYY-MM-DD)",
        "add_url": "URL",
        "add_button": "Add article",
        "upload": "Or upload a file (.txt .md .json .jsonl .jsonl.gz .html)",
        "upload_button": "Add file",
        "not_an_upload": "Only a file uploaded here can be added.",
        "added": "Added {articles}, {passages}: ask about it now.",
        "already_there": "Already in the library, nothing to add ({n}).",
        "add_failed": "Not added: {reasons}",
        "empty_text": "Paste the article's text first.",
        "no_file": "Choose a file first.",
        "totals": "{articles}, {chunks}, {first_date} to {last_date}",
        "totals_undated": "{articles}, {chunks} (no dates)",
        "n_articles": "{n} article|{n} articles",
        "n_passages": "{n} passage|{n} passages",
        "indexed": "Indexed: {totals}",
        "indexed_sources": "sources: {sources}",
        "source": "Source",
        "month": "Month",
        "ui_language": "Interface",
        "history": "Past conversations",
        "delete_conversation": "Delete this conversation",
        "conversation_deleted": "The conversation was deleted.",
        "choose_conversation": "Choose a conversation to delete first.",
    },
    "ar": {
        "title": "أسئلة وأجوبة حول الأخبار مع المصادر",
        "chat_tab": "المحادثة",
        "library_tab": "المكتبة",
        "question": "سؤالك",
        "placeholder": "اسأل عن الأخبار بالعربية أو الإنجليزية…",
        "send": "اسأل",
        "stop": "إيقاف",
        "new_chat": "محادثة جديدة",
        "filters": "تصفية",
        "source_filter": "الصحيفة / المصدر",
        "date_from": "من تاريخ (YYYY-MM-DD)",
        "date_to": "إلى تاريخ (YYYY-MM-DD)",
        "examples": "أمثلة",
        "sources": "المصادر",
        "also_retrieved": "مصادر أخرى لم يُستشهد بها ({n})",
        "no_sources": "تظهر مصادر الإجابة هنا.",
        "none_answers": "لا يجيب أي من المقالات المفهرسة عن هذا السؤال.",
        "bad_date": "«{value}» ليس تاريخًا: اكتبه هكذا 2015-07-21.",
        "empty_range": "لا يطابق أي مقال مفهرس هذه التصفية (المصدر والتاريخ).",
        "unsupported": "لا يدعمه المصدر المذكور",
        "mode_generated": "كتبه نموذج لغوي اعتمادًا على المصادر",
        "too_long": "السؤال طويل جدًا: {n} حرفًا، والحد الأقصى {limit}.",
        "thanks": "شكرًا، تم حفظ تقييمك.",
        "failed": "حدث خطأ أثناء الإجابة؛ حاول مرة أخرى.",
        "feeds": "خلاصات الأخبار",
        "feed_url": "عنوان الخلاصة (RSS أو Atom أو JSON Feed أو خريطة موقع إخبارية)",
        "feed_add": "تابِع",
        "feed_poll": "اجلب الكل الآن",
        "feed_remove": "أوقف المتابعة",
        "feed_added": "تتم الآن متابعة {title} ({kind})؛ تصل مقالاتها عند الجلب التالي.",
        "feed_removed": "توقفت متابعة {url}؛ تبقى مقالاتها في المكتبة.",
        "feed_polled": "جُلبت {n} خلاصات: {new} مقالات جديدة و{updated} محدَّثة.",
        "no_feed_url": "اكتب عنوان الخلاصة أولاً.",
        "no_feeds": "لا تتم متابعة أي خلاصة بعد.",
        "feeds_admin_only": "تُدار الخلاصات بمفتاح المشرف.",
        "feed_columns": "الخلاصة|الحالة|آخر جلب|جديد|محدَّث|فشل|آخر خطأ",
        "add_title": "العنوان",
        "add_text": "نص المقال",
        "add_source": "المصدر",
        "add_date": "التاريخ (YYYY-MM-DD)",
        "add_url": "الرابط",
        "add_button": "أضف المقال",
        "upload": "أو ارفع ملفًا (.txt .md .json .jsonl .jsonl.gz .html)",
        "upload_button": "أضف الملف",
        "not_an_upload": "لا يمكن إضافة إلا ملف مرفوع هنا.",
        "added": "أُضيف {articles}، {passages}: يمكنك السؤال عنه الآن.",
        "already_there": "موجود في المكتبة، لا شيء يُضاف ({n}).",
        "add_failed": "لم تتم الإضافة: {reasons}",
        "empty_text": "الصق نص المقال أولًا.",
        "no_file": "اختر ملفًا أولًا.",
        "totals": "{articles}، {chunks}، من {first_date} إلى {last_date}",
        "totals_undated": "{articles}، {chunks} (دون تواريخ)",
        # one, two, three to ten, and the rest (Arabic counts its nouns so)
        "n_articles": "مقال واحد|مقالان|{n} مقالات|{n} مقالًا",
        "n_passages": "مقطع واحد|مقطعان|{n} مقاطع|{n} مقطعًا",
        "indexed": "المفهرس: {totals}",
        "indexed_sources": "المصادر: {sources}",
        "source": "المصدر",
        "month": "الشهر",
        "ui_language": "الواجهة",
        "history": "المحادثات السابقة",
        "delete_conversation": "احذف هذه المحادثة",
        "conversation_deleted": "حُذفت المحادثة.",
        "choose_conversation": "اختر محادثة لحذفها أولًا.",
    },
}

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
PAGE_SCRIPT = (Path(__file__).parent / "data" / "chat.js").read_text(encoding="utf-8")

THEME = gr.themes.Default(
    # local fonts only: the page must not reach for a font server (offline, no tracking)
    font=["Noto Sans", "Noto Naskh Arabic", "system-ui", "sans-serif"],
    font_mono=["DejaVu Sans Mono", "monospace"],
)


def build_web(service: Service) -> gr.Blocks:
    """The Gradio app for one ``Service``."""
    stats = service.stats()  # what the page first shows; events read it anew
    saves = SaveAllowance()
    with gr.Blocks(title=LABELS["en"]["title"], analytics_enabled=False) as web:
        ui_language = gr.State("en")
        answers = gr.State([])  # per assistant message, in order: its answer (None if stopped)
        # the browser's id is random and only names its conversations; a secret that
        # outlives a restart keeps Gradio able to read the id back (its default is new at
        # each start)
        browser = gr.BrowserState(
            None, storage_key="rag-news-browser", secret=service.folder_digest()
        )
        conversation = gr.State(None)  # the id of the conversation on screen, once saved
        with gr.Sidebar(label=LABELS["en"]["history"], open=False, elem_id="history-bar"):
            past = gr.Radio([], label=LABELS["en"]["history"], elem_id="history")
            forget = gr.Button(LABELS["en"]["delete_conversation"], elem_id="delete-conversation")
            history_notice = gr.Markdown(elem_id="history-notice")
        with gr.Row():
            heading = gr.Markdown(f"## {LABELS['en']['title']}", elem_id="title")
            language_choice = gr.Radio(
                [("English", "en"), ("العربية", "ar")],
                value="en",
                label=LABELS["en"]["ui_language"],
                elem_id="ui-language",
                scale=0,
                min_width=240,  # the two choices side by side: a header of one line
            )
        indexed = gr.HTML(_indexed(stats, "en"), elem_id="indexed")
        with gr.Tabs():
            with gr.Tab(LABELS["en"]["chat_tab"], id="chat") as chat_tab, gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        height=520,
                        sanitize_html=True,
                        show_label=False,
                        buttons=["copy"],  # no share icon: it had no label and did nothing
                        editable="user",  # a question is edited and asked again
                    )
                    notice = gr.Markdown(elem_id="notice")
                    question = gr.Textbox(
                        label=LABELS["en"]["question"],
                        placeholder=LABELS["en"]["placeholder"],
                        elem_id="question",
                        lines=1,  # Enter sends; Shift+Enter adds a line (the box grows)
                        max_lines=8,
                    )
                    with gr.Row():
                        send = gr.Button(LABELS["en"]["send"], variant="primary", elem_id="send")
                        stop = gr.Button(LABELS["en"]["stop"], elem_id="stop", visible=False)
                        new_chat = gr.Button(LABELS["en"]["new_chat"], elem_id="new-chat")
                    examples = gr.Examples(
                        EXAMPLES, inputs=[question], label=LABELS["en"]["examples"]
                    )
                    with gr.Accordion(LABELS["en"]["filters"], open=False) as filters_box:
                        source_filter = gr.Dropdown(
                            choices=service.sources(stats),
                            multiselect=True,
                            label=LABELS["en"]["source_filter"],
                            elem_id="source-filter",
                        )
                        date_from = gr.Textbox(label=LABELS["en"]["date_from"], elem_id="from")
                        date_to = gr.Textbox(label=LABELS["en"]["date_to"], elem_id="to")
                with gr.Column(scale=2):
                    sources_panel = gr.HTML(
                        sources_html(_empty_answer(), {}, LABELS["en"]), elem_id="sources"
                    )
            with gr.Tab(LABELS["en"]["library_tab"], id="library") as library_tab:
                stats_panel = gr.HTML(stats_html(stats, LABELS["en"]), elem_id="library-stats")
                add_title = gr.Textbox(label=LABELS["en"]["add_title"], elem_id="add-title")
                add_text = gr.Textbox(label=LABELS["en"]["add_text"], lines=6, elem_id="add-text")
                with gr.Row():
                    add_source = gr.Textbox(label=LABELS["en"]["add_source"], elem_id="add-source")
                    add_date = gr.Textbox(label=LABELS["en"]["add_date"], elem_id="add-date")
                    add_url = gr.Textbox(label=LABELS["en"]["add_url"], elem_id="add-url")
                add_button = gr.Button(LABELS["en"]["add_button"], elem_id="add-article")
                upload = gr.File(
                    label=LABELS["en"]["upload"], file_types=UPLOAD_TYPES, elem_id="upload"
                )
                upload_button = gr.Button(LABELS["en"]["upload_button"], elem_id="add-file")
                library_notice = gr.Markdown(elem_id="library-notice")
                feeds_heading = gr.Markdown(f"### {LABELS['en']['feeds']}")
                feed_url = gr.Textbox(label=LABELS["en"]["feed_url"], elem_id="feed-url")
                with gr.Row():
                    feed_add = gr.Button(LABELS["en"]["feed_add"], elem_id="feed-add")
                    feed_poll = gr.Button(LABELS["en"]["feed_poll"], elem_id="feed-poll")
                    feed_remove = gr.Button(LABELS["en"]["feed_remove"], elem_id="feed-remove")
                feeds_notice = gr.Markdown(elem_id="feeds-notice")
                feeds_panel = gr.HTML(elem_id="feeds")

        def respond(text, chat, given, sources, start, end, lang, request: gr.Request):
            yield from _respond(
                service, request, saves, text, chat, given, sources, start, end, lang
            )

        chat_inputs = [question, chatbot, answers, source_filter, date_from, date_to, ui_language]
        chat_outputs = [question, chatbot, answers, sources_panel, notice]

        # while an answer is written: Ask is off and Stop is shown; Stop cancels the answer
        def lock():
            return gr.update(interactive=False), gr.update(visible=True)

        def unlock():
            return gr.update(interactive=True), gr.update(visible=False)

        def remember(browser_id, conversation_id, chat, given, request: gr.Request):
            return _remember(service, request, saves, browser_id, conversation_id, chat, given)

        remembered = [conversation, past, history_notice]
        answering = []

        def answer_after(locked):
            """Write the answer, then give Ask back and keep the conversation."""
            # no Gradio limit of its own (1 by default: one user at a time): the shared
            # answer cap of rag.access applies, as it does to /v1 and Slack
            # and "multiple": a stopped answer stays pending in the page, which would drop
            # the next question (Ask is off while an answer is written, so no double sends)
            answer = locked.then(respond, chat_inputs, chat_outputs, concurrency_limit=None,
                                 trigger_mode="multiple")  # fmt: skip
            answer.then(unlock, None, [send, stop], queue=False).then(
                remember, [browser, conversation, chatbot, answers], remembered
            )
            answering.append(answer)

        for trigger in (send.click, question.submit):
            answer_after(trigger(lock, None, [send, stop], queue=False))
        # regenerate the last answer, or ask an edited question again: the conversation
        # is cut where it changes, and the question goes through the same steps
        cut = [question, chatbot, answers]
        for trigger, step in ((chatbot.retry, _retry_last), (chatbot.edit, _edit_question)):
            prepared = trigger(step, [chatbot, answers], cut, queue=False)
            answer_after(prepared.then(lock, None, [send, stop], queue=False))
        stop.click(_stopped, [chatbot, answers], [send, stop, answers], cancels=answering,
                   queue=False).then(
            remember, [browser, conversation, chatbot, answers], remembered
        )  # fmt: skip

        def fresh_chat(lang):
            empty = sources_html(_empty_answer(), {}, LABELS[lang])
            return [], [], empty, "", None, gr.update(value=None)

        fresh = [chatbot, answers, sources_panel, notice, conversation, past]
        new_chat.click(fresh_chat, [ui_language], fresh)
        # the chat's own trash icon too: a rating after it must not rate an earlier answer
        chatbot.clear(fresh_chat, [ui_language], fresh)

        def reopen(browser_id, conversation_id, lang, request: gr.Request):
            return _reopen(service, request, browser_id, conversation_id, lang)

        reopened = [chatbot, answers, sources_panel, notice, conversation, history_notice]
        past.input(reopen, [browser, past, ui_language], reopened)

        def delete(browser_id, chosen, shown, lang, request: gr.Request):
            return _forget(service, request, browser_id, chosen, shown, lang)

        forget.click(delete, [browser, past, conversation, ui_language],
                     [past, history_notice, *fresh])  # fmt: skip

        def start_history(browser_id, request: gr.Request):
            return _start_history(service, request, browser_id)

        web.load(start_history, [browser], [browser, past])

        def like(given, lang, data: gr.LikeData, request: gr.Request):
            return _record_feedback(service, request, given, lang, data)

        chatbot.like(like, [answers, ui_language], [notice])

        pasted_form = [add_title, add_text, add_source, add_date, add_url]
        library_outputs = [library_notice, stats_panel, source_filter]

        def add_pasted(title, text, source, date, url, lang, request: gr.Request):
            return _add_pasted(service, request, title, text, source, date, url, lang)

        # the form is emptied once its article is in
        add_button.click(add_pasted, [*pasted_form, ui_language], [*library_outputs, *pasted_form])

        def add_uploaded(path, lang, request: gr.Request):
            return _add_uploaded(service, request, path, lang)

        upload_button.click(add_uploaded, [upload, ui_language], library_outputs)

        def feeds_action(action):
            def run(url, lang, request: gr.Request):
                return _feeds_action(service, request, action, url, lang)

            return run

        feeds_outputs = [feeds_notice, feeds_panel, stats_panel, source_filter]
        for button, action in ((feed_add, "add"), (feed_poll, "poll"), (feed_remove, "remove")):
            button.click(feeds_action(action), [feed_url, ui_language], feeds_outputs)

        def show_feeds(lang, request: gr.Request):
            return _feeds_view(service, request, lang)

        library_tab.select(show_feeds, [ui_language], [feeds_panel])

        def refresh(lang):  # what is indexed now, not at server start
            now = service.stats()
            return (
                stats_html(now, LABELS[lang]),
                gr.update(choices=service.sources(now)),
                _indexed(now, lang),
            )

        refreshed = [stats_panel, source_filter, indexed]
        for event in (web.load, library_tab.select, chat_tab.select):
            event(refresh, [ui_language], refreshed, show_progress="hidden")  # no spinner

        relabelled = [
            heading, language_choice, chat_tab, library_tab, question, send, stop, new_chat,
            past, forget,
            filters_box, source_filter, date_from, date_to, add_title, add_text, add_source,
            add_date, add_url, add_button, upload, upload_button, stats_panel, feeds_heading,
            feed_url, feed_add, feed_poll, feed_remove, indexed, examples.dataset,
        ]  # fmt: skip

        def relabel(lang, chat, given):
            return [lang, *_relabel(service, lang), *_in_language(service, chat, given, lang)]

        # the whole page turns right-to-left in Arabic (alignment, bubbles, the textbox), and
        # the answers on screen and their sources take the new language's labels
        language_choice.change(relabel, [language_choice, chatbot, answers],
                               [ui_language, *relabelled, chatbot, sources_panel],
                               js=PAGE_DIRECTION)  # fmt: skip
    return web


def _relabel(service: Service, lang: str) -> list:
    t, stats = LABELS[lang], service.stats()
    return [
        f"## {t['title']}",
        gr.update(label=t["ui_language"]),
        gr.update(label=t["chat_tab"]),
        gr.update(label=t["library_tab"]),
        gr.update(label=t["question"], placeholder=t["placeholder"], rtl=lang == "ar"),
        gr.update(value=t["send"]),
        gr.update(value=t["stop"]),
        gr.update(value=t["new_chat"]),
        gr.update(label=t["history"]),
        gr.update(value=t["delete_conversation"]),
        gr.update(label=t["filters"]),
        gr.update(label=t["source_filter"]),
        gr.update(label=t["date_from"]),
        gr.update(label=t["date_to"]),
        gr.update(label=t["add_title"]),
        gr.update(label=t["add_text"]),
        gr.update(label=t["add_source"]),
        gr.update(label=t["add_date"]),
        gr.update(label=t["add_url"]),
        gr.update(value=t["add_button"]),
        gr.update(label=t["upload"]),
        gr.update(value=t["upload_button"]),
        stats_html(stats, t),
        f"### {t['feeds']}",
        gr.update(label=t["feed_url"]),
        gr.update(value=t["feed_add"]),
        gr.update(value=t["feed_poll"]),
        gr.update(value=t["feed_remove"]),
        _indexed(stats, lang),
        gr.update(label=t["examples"]),
    ]


# ----- chat -----------------------------------------------------------------------------


def _caller(service: Service, request: gr.Request | None) -> Caller:
    """The same door as /v1: the key page's session cookie or a bearer header, and the
    client's address (``AccessError`` when keys are required and none is valid)."""
    headers = dict(getattr(request, "headers", None) or {})
    cookies = dict(getattr(request, "cookies", None) or {})
    client = getattr(request, "client", None)
    return service.identify(
        "web",
        key=bearer_key(headers),
        session=cookies.get(SESSION_COOKIE),
        address=getattr(client, "host", None),
    )


def _respond(service, request, saves, text, chat, given, sources, start, end, lang):
    """Yields (question box, chat, answers, sources panel, notice) as the answer streams;
    an answer let through the door allows its page one save of the conversation."""
    t = LABELS[lang]
    question = (text or "").strip()
    start, end = (start or "").strip() or None, (end or "").strip() or None
    try:
        refusal, filters = _refusal(service, question, tuple(sources or ()), start, end, t)
        caller = None if refusal is not None else _caller(service, request)
    except AccessError as err:
        refusal = err.message
    if refusal is not None:  # "" for an empty question: ignored
        yield gr.update(), chat, given, gr.update(), refusal
        return
    given = _in_step(chat, given)
    history = _history(given)
    chat = [
        *chat,
        {"role": "user", "content": escape(question, quote=False)},  # as typed when edited
        {"role": "assistant", "content": "…"},
    ]
    yield "", chat, given, gr.update(), ""
    partial, pieces = "", None
    try:
        # the slot is taken and the answer started before the first yield below: a stopped
        # answer is abandoned at a yield, and closing ``pieces`` gives the slot back
        pieces = service.ask_streaming(caller, question, history=history, filters=filters)
        saves.grant(_session_of(request))
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece
                break
            partial += piece
            chat[-1] = {"role": "assistant", "content": escape(partial)}
            yield "", chat, given, gr.update(), ""
    except (RagError, ValueError) as err:  # AccessError too: over the limit, or busy
        yield question, chat[:-2], given, gr.update(), str(err)
        return
    except Exception:  # the page must show a message, never hang or show a traceback
        log.exception("answering failed")
        yield question, chat[:-2], given, gr.update(), t["failed"]
        return
    finally:
        if pieces is not None:
            pieces.close()
    articles = service.cited_articles(answer)
    chat[-1] = {"role": "assistant", "content": answer_html(answer, articles, t, len(given) + 1)}
    yield "", chat, [*given, asdict(answer)], sources_html(answer, articles, t), ""


def _refusal(service: Service, question: str, sources: tuple, start, end, t: dict):
    """Why the page will not answer ("" for an empty question: ignored; else a notice, or
    None when it will), and the filters when it will. Checked in this order: the question,
    the dates, whether any article is there."""
    if not question:
        return "", None
    if len(question) > MAX_QUESTION_CHARS:
        return t["too_long"].format(n=len(question), limit=MAX_QUESTION_CHARS), None
    for value in (start, end):
        if value and not is_iso_date(value):
            return t["bad_date"].format(value=value), None
    filters = Filters(sources, start, end)
    return (None if service.has_articles(filters) else t["empty_range"]), filters


def _in_language(service: Service, chat: list[dict], given: list, lang: str):
    """The chat's answers and the sources panel drawn again with ``lang``'s labels."""
    t, chat, newest = LABELS[lang], [dict(message) for message in chat], None
    replies = [i for i, message in enumerate(chat) if message.get("role") == "assistant"]
    for number, (position, answer) in enumerate(zip(replies, given, strict=False), start=1):
        if answer:  # a stopped answer stays as it was
            newest = Answer.from_dict(answer)
            articles = service.cited_articles(newest)
            chat[position]["content"] = answer_html(newest, articles, t, number)
    if newest is None:
        return chat, sources_html(_empty_answer(), {}, t)
    return chat, sources_html(newest, articles, t)


def _history(given: list[dict | None]) -> list[dict]:
    history = []
    for answer in filter(None, given):  # a stopped answer is no part of it
        history.append({"role": "user", "content": answer["question"]})
        history.append({"role": "assistant", "content": answer["text"]})
    return history


def _text_of(message: dict) -> str:
    """A message's text as typed (Gradio may hand content over as a list of parts)."""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return unescape(content or "")


def _cut_at(chat: list[dict], given: list, position: int) -> tuple[list, list]:
    """The conversation before message ``position`` (a question): messages and answers."""
    return chat[:position], given[: position // 2]


def _retry_last(chat, given):
    """Regenerate: the last question goes back in the box, its answer is cut away."""
    questions = [i for i, m in enumerate(chat) if m.get("role") == "user"]
    if not questions:
        return gr.update(), chat, given
    return _text_of(chat[questions[-1]]), *_cut_at(chat, given, questions[-1])


def _edit_question(chat, given, edit: gr.EditData):
    """An edited question is asked again; what followed it is cut away."""
    position = edit.index[0] if isinstance(edit.index, (list, tuple)) else edit.index
    if not 0 <= position < len(chat) or chat[position].get("role") != "user":
        return gr.update(), chat, given
    return unescape(str(edit.value)), *_cut_at(chat, given, position)


def _stopped(chat, given):
    """Ask back, Stop hidden, and a stopped answer counted (as None) so that the answers
    stay in step with the chat's messages (ratings and history rely on it)."""
    return gr.update(interactive=True), gr.update(visible=False), _in_step(chat, given)


def _in_step(chat: list[dict], given: list) -> list:
    """``given`` with a None for each stopped answer it lacks: the stopped answer's last
    update can arrive after Stop's and take the None back, and the next answer was then
    rated in its place (a flaky browser test, about one run in six)."""
    missing = sum(m.get("role") == "assistant" for m in chat) - len(given)
    return list(given) + [None] * max(0, missing)


# ----- past conversations ---------------------------------------------------------------


def _start_history(service: Service, request, browser_id):
    """A browser's id (made on its first visit) and its past conversations."""
    if not isinstance(browser_id, str) or not BROWSER_ID.fullmatch(browser_id):
        browser_id = uuid.uuid4().hex
    try:
        choices = _choices(service, _caller(service, request), browser_id)
    except RagError:
        choices = []
    return browser_id, gr.update(choices=choices, value=None)


def _choices(service: Service, caller: Caller, browser_id: str) -> list[tuple[str, str]]:
    try:
        listed = service.conversations(caller, browser_id)
    except RagError:
        return []
    # the title isolated (U+2068/U+2069): an Arabic title must not reorder the date
    return [(f"{updated[:10]} · \u2068{title}\u2069", cid) for cid, title, updated in listed]


def _remember(service, request, saves, browser_id, conversation_id, chat, given):
    """Save the conversation on screen after each answer: (its id, the list, a notice).
    The save that follows an answer belongs to it, let through the door with the answer
    (the last answer a minute allows is saved too); any other save (a script calling
    Gradio's API for it alone) counts as a request of its own."""
    if not chat or not isinstance(browser_id, str):
        return conversation_id, gr.update(), ""
    conversation_id = conversation_id or uuid.uuid4().hex
    try:
        caller = _caller(service, request)  # the key, every time
        counted = not saves.take(_session_of(request))
        service.save_conversation(caller, browser_id, conversation_id, chat, given,
                                  counted=counted)  # fmt: skip
    except RagError as err:  # over the limit, or a read-only folder: the chat still works
        return conversation_id, gr.update(), str(err)
    choices = _choices(service, caller, browser_id)
    return conversation_id, gr.update(choices=choices, value=conversation_id), ""


class SaveAllowance:
    """Which page sessions may save their conversation once without counting a request:
    those just given an answer. The oldest are forgotten beyond ``most`` sessions."""

    def __init__(self, most: int = 10_000):
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._most = most

    def grant(self, session: str | None) -> None:
        if not session:
            return
        with self._lock:
            self._sessions[session] = None
            self._sessions.move_to_end(session)
            while len(self._sessions) > self._most:
                self._sessions.popitem(last=False)

    def take(self, session: str | None) -> bool:
        """Whether ``session`` had a save allowed (it is used up)."""
        with self._lock:
            if session not in self._sessions:
                return False
            del self._sessions[session]
            return True


def _session_of(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _reopen(service, request, browser_id, conversation_id, lang):
    """A past conversation back on screen, with its newest answer's sources."""
    t = LABELS[lang]
    try:
        shown = service.conversation(_caller(service, request), browser_id, conversation_id)
    except RagError as err:
        return gr.update(), gr.update(), gr.update(), "", gr.update(), str(err)
    answered = [a for a in shown.answers if a]
    if answered:
        newest = Answer.from_dict(answered[-1])
        panel = sources_html(newest, service.cited_articles(newest), t)
    else:
        panel = sources_html(_empty_answer(), {}, t)
    return shown.messages, shown.answers, panel, "", shown.id, ""


def _forget(service, request, browser_id, chosen, shown, lang):
    """Delete the chosen conversation (the one on screen is cleared too)."""
    t = LABELS[lang]
    if not chosen:
        return gr.update(), t["choose_conversation"], *[gr.update()] * 6
    try:
        caller = _caller(service, request)
        service.forget_conversation(caller, browser_id, chosen)
    except RagError as err:
        return gr.update(), str(err), *[gr.update()] * 6
    choices = gr.update(choices=_choices(service, caller, browser_id), value=None)
    if chosen != shown:
        return choices, t["conversation_deleted"], *[gr.update()] * 6
    empty = sources_html(_empty_answer(), {}, t)
    return choices, t["conversation_deleted"], [], [], empty, "", None, gr.update(value=None)


def _empty_answer() -> Answer:
    return Answer("", "", [], [], [], "", "", False, "extractive")


def _record_feedback(service: Service, request, given: list[dict], lang: str, data) -> str:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    position = int(index) // 2  # user, assistant, user, assistant, ...
    if data.liked not in (True, False) or not 0 <= position < len(given) or not given[position]:
        return ""
    try:
        rating = 1 if data.liked else -1
        service.rate(_caller(service, request), Answer.from_dict(given[position]), rating)
    except AccessError as err:
        return err.message
    except RagError as err:  # a read-only index folder
        return str(err)
    return LABELS[lang]["thanks"]


# ----- library --------------------------------------------------------------------------


def _stats(service: Service, lang: str) -> str:
    return stats_html(service.stats(), LABELS[lang])


def _indexed(stats: dict, lang: str) -> str:
    """One line under the title: how many articles and passages, from when to when, and
    from which newspapers."""
    t = LABELS[lang]
    line = t["indexed"].format(totals=totals_text(stats, t))
    named = [source for source in stats["sources"] if source != "(none)"]
    if named:
        line += " · " + t["indexed_sources"].format(sources=short_list(named, 3))
    # a date isolated left-to-right (U+2066 ... U+2069) is never broken across two lines
    kept_whole = escape(line).replace("\u2066", '<span class="date">\u2066')
    kept_whole = kept_whole.replace("\u2069", "\u2069</span>")
    return f'<p dir="auto">{kept_whole}</p>'


def _add_pasted(service, request, title, text, source, date, url, lang):
    """The notice, statistics and sources, then the five form fields (emptied if added)."""
    t = LABELS[lang]
    if not (text or "").strip():
        return t["empty_text"], gr.update(), gr.update(), *[gr.update()] * 5
    record = {"title": title, "content": text, "source": source, "date": date, "url": url}
    *outputs, added = _write(
        service, request, lang, lambda caller: service.add_records(caller, [record], "web")
    )
    return *outputs, *([""] * 5 if added else [gr.update()] * 5)


def _add_uploaded(service, request, path, lang):
    t = LABELS[lang]
    if not path:
        return t["no_file"], gr.update(), gr.update()
    if not _is_upload(path):  # a path named by a client calling Gradio's API directly
        log.warning("refused to add a file outside the upload folder")
        return t["not_an_upload"], gr.update(), gr.update()
    return _write(service, request, lang, lambda caller: service.add_file(caller, path))[:3]


def _is_upload(path) -> bool:
    """Whether ``path`` is a file Gradio received in its own upload folder."""
    folder = Path(get_upload_folder()).resolve()
    return Path(path).resolve().is_relative_to(folder)


def _write(service, request, lang, add):
    """An addition through the same door as /v1: an admin key (or the local user), the
    rate limit, and the index's write lock. The notice, statistics, sources, and whether
    an article went in; a refusal is one line in the notice."""
    try:
        report = add(_caller(service, request))
    except RagError as err:  # no permission, over the limit, read-only, another writer
        return str(err), gr.update(), gr.update(), False
    return *_library_result(service, report, lang), report.ingested + report.updated > 0


def _library_result(service, report, lang):
    return (
        library_message(report, LABELS[lang]),
        _stats(service, lang),
        gr.update(choices=service.sources()),
    )


def _feeds_view(service, request, lang) -> str:
    """The feeds table for an admin (or the local user); a line saying so for others."""
    t = LABELS[lang]
    try:
        followed = service.feed_statuses(_caller(service, request))
    except RagError:
        return f"<p>{t['feeds_admin_only']}</p>"
    return feeds_html(followed, t)


def _feeds_action(service, request, action: str, url: str, lang: str):
    """Follow, fetch or stop following, through the same door as /v1/feeds: the notice,
    the feeds table, the statistics and the sources."""
    t = LABELS[lang]
    url = (url or "").strip()
    if action != "poll" and not url:
        return t["no_feed_url"], gr.update(), gr.update(), gr.update()
    try:
        caller = _caller(service, request)
        if action == "add":
            feed = service.follow_feed(caller, url)
            notice = t["feed_added"].format(title=feed.title or feed.url, kind=feed.kind)
        elif action == "remove":
            service.unfollow_feed(caller, url)
            notice = t["feed_removed"].format(url=url)
        else:
            polled = service.poll_feeds(caller, every=True)
            notice = t["feed_polled"].format(n=len(polled), new=sum(f.new for f in polled),
                                             updated=sum(f.updated for f in polled))  # fmt: skip
        followed = service.feed_statuses(caller)
    except RagError as err:  # no permission, not a feed, not followed, read-only
        return str(err), gr.update(), gr.update(), gr.update()
    return (notice, feeds_html(followed, t), _stats(service, lang),
            gr.update(choices=service.sources()))  # fmt: skip


def library_message(report, t: dict[str, str]) -> str:
    """What an addition did, in words: added, already there, or not added and why."""
    added = report.ingested + report.updated
    parts = []
    if added:
        articles, passages = (
            counted(added, t["n_articles"]),
            counted(report.chunks, t["n_passages"]),
        )
        parts.append(t["added"].format(articles=articles, passages=passages))
    if report.unchanged or report.skipped:
        parts.append(t["already_there"].format(n=report.unchanged + report.skipped))
    if report.failures:
        parts.append(t["add_failed"].format(reasons="; ".join(f.reason for f in report.failures)))
    return " ".join(parts)
