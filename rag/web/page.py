"""The page: its layout (one function per part) and the wiring of each event to its handler
(``asking``, ``past``, ``library``). Everything the page shows first is in English; the
language switch relabels it (``library.relabel``)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from rag.service import Service
from rag.web import asking, library, past, rendering
from rag.web.labels import EXAMPLES, LABELS, UPLOAD_TYPES
from rag.web.rendering import sources_html, stats_html
from rag.web.style import LANGUAGE_SWITCHED, PAGE_DIRECTION

EN = LABELS["en"]


def build_web(service: Service) -> gr.Blocks:
    """The Gradio app for one ``Service``."""
    stats = service.stats()  # what the page first shows; events read it anew
    saves = past.SaveAllowance()
    with gr.Blocks(title=EN["title"], analytics_enabled=False) as web:
        page = _layout(service, stats)
        _wire_answers(page, service, saves)
        _wire_history(web, page, service)
        _wire_library(web, page, service)
        _wire_language(web, page, service)
    return web


# ----- layout ----------------------------------------------------------------------------


def _layout(service: Service, stats: dict) -> SimpleNamespace:
    """Every component and state of the page, by name."""
    states = {
        "ui_language": gr.State("en"),
        "answers": gr.State([]),  # per assistant message, in order: its answer (None: stopped)
        # the browser's id is random and only names its conversations; a secret that
        # outlives a restart keeps Gradio able to read the id back (its default is new at
        # each start)
        "browser": gr.BrowserState(
            None, storage_key="rag-news-browser", secret=service.folder_digest()
        ),
        "conversation": gr.State(None),  # the id of the conversation on screen, once saved
        "deleted": gr.State(None),  # (the conversation last deleted, whether it was on screen)
        # the interface language chosen in this browser, kept across reloads
        "saved_language": gr.BrowserState("en", storage_key="rag-news-language"),
    }
    parts = {**states, **_sidebar(), **_header(stats)}
    with gr.Tabs():
        parts.update(_chat_tab(service, stats))
        parts.update(_library_tab(stats))
    return SimpleNamespace(**parts)


def _sidebar() -> dict:
    with gr.Sidebar(label=EN["history"], open=False, elem_id="history-bar"):
        return {
            "past_chats": gr.Radio([], label=EN["history"], elem_id="history"),
            "forget": gr.Button(EN["delete_conversation"], elem_id="delete-conversation"),
            "undo_forget": gr.Button(EN["undo_delete"], elem_id="undo-delete", visible=False),
            "history_notice": gr.Markdown(elem_id="history-notice"),
        }


def _header(stats: dict) -> dict:
    with gr.Row():
        heading = gr.Markdown(f"## {EN['title']}", elem_id="title")
        language_choice = gr.Radio(
            [("English", "en"), ("العربية", "ar")],
            value="en",
            label=EN["ui_language"],
            elem_id="ui-language",
            scale=0,
            min_width=240,  # the two choices side by side: a header of one line
        )
    indexed = gr.HTML(library.indexed(stats, "en"), elem_id="indexed")
    return {"heading": heading, "language_choice": language_choice, "indexed": indexed}


def _chat_tab(service: Service, stats: dict) -> dict:
    with gr.Tab(EN["chat_tab"], id="chat") as chat_tab, gr.Row():
        with gr.Column(scale=3):
            chat = _conversation_column()
            with gr.Accordion(EN["filters"], open=False) as filters_box:
                source_filter = gr.Dropdown(
                    choices=service.sources(stats),
                    multiselect=True,
                    label=EN["source_filter"],
                    elem_id="source-filter",
                )
                date_from = gr.Textbox(label=EN["date_from"], elem_id="from")
                date_to = gr.Textbox(label=EN["date_to"], elem_id="to")
        with gr.Column(scale=2):
            sources_panel = gr.HTML(
                sources_html(rendering.empty_answer(), {}, EN), elem_id="sources"
            )
    return {**chat, "chat_tab": chat_tab, "filters_box": filters_box,
            "source_filter": source_filter, "date_from": date_from, "date_to": date_to,
            "sources_panel": sources_panel}  # fmt: skip


def _conversation_column() -> dict:
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
        label=EN["question"],
        placeholder=EN["placeholder"],
        elem_id="question",
        lines=1,  # Enter sends; Shift+Enter adds a line (the box grows)
        max_lines=8,
    )
    with gr.Row():
        send = gr.Button(EN["send"], variant="primary", elem_id="send")
        stop = gr.Button(EN["stop"], elem_id="stop", visible=False)
        new_chat = gr.Button(EN["new_chat"], elem_id="new-chat")
    examples = gr.Examples(EXAMPLES, inputs=[question], label=EN["examples"])
    return {"chatbot": chatbot, "notice": notice, "question": question, "send": send,
            "stop": stop, "new_chat": new_chat, "examples": examples}  # fmt: skip


def _library_tab(stats: dict) -> dict:
    with gr.Tab(EN["library_tab"], id="library") as library_tab:
        parts = {
            "library_tab": library_tab,
            "stats_panel": gr.HTML(stats_html(stats, EN), elem_id="library-stats"),
            "add_title": gr.Textbox(label=EN["add_title"], elem_id="add-title"),
            "add_text": gr.Textbox(label=EN["add_text"], lines=6, elem_id="add-text"),
        }
        with gr.Row():
            parts["add_source"] = gr.Textbox(label=EN["add_source"], elem_id="add-source")
            parts["add_date"] = gr.Textbox(label=EN["add_date"], elem_id="add-date")
            parts["add_url"] = gr.Textbox(label=EN["add_url"], elem_id="add-url")
        parts["add_button"] = gr.Button(EN["add_button"], elem_id="add-article")
        parts["upload"] = gr.File(label=EN["upload"], file_types=UPLOAD_TYPES, elem_id="upload")
        parts["upload_button"] = gr.Button(EN["upload_button"], elem_id="add-file")
        parts["library_notice"] = gr.Markdown(elem_id="library-notice")
        parts["feeds_heading"] = gr.Markdown(f"### {EN['feeds']}")
        parts["feed_url"] = gr.Textbox(label=EN["feed_url"], elem_id="feed-url")
        with gr.Row():
            parts["feed_add"] = gr.Button(EN["feed_add"], elem_id="feed-add")
            parts["feed_poll"] = gr.Button(EN["feed_poll"], elem_id="feed-poll")
            parts["feed_remove"] = gr.Button(EN["feed_remove"], elem_id="feed-remove")
        parts["feeds_notice"] = gr.Markdown(elem_id="feeds-notice")
        parts["feeds_panel"] = gr.HTML(elem_id="feeds")
    return parts


# ----- wiring ----------------------------------------------------------------------------


def _wire_answers(p: SimpleNamespace, service: Service, saves: past.SaveAllowance) -> None:
    """Ask (button or Enter), regenerate, edit and Stop; each answer is then saved."""

    def respond(text, chat, given, sources, start, end, lang, request: gr.Request):
        yield from asking.respond(
            service, request, saves, text, chat, given, sources, start, end, lang
        )

    def said_again(chat, given, lang):
        return asking.note_regenerated(service, chat, given, lang)

    def remember(browser_id, conversation_id, chat, given, request: gr.Request):
        return past.remember(service, request, saves, browser_id, conversation_id, chat, given)

    # while an answer is written: Ask is off and Stop is shown; Stop cancels the answer
    def lock():
        return gr.update(interactive=False), gr.update(visible=True)

    def unlock():
        return gr.update(interactive=True), gr.update(visible=False)

    inputs = [p.question, p.chatbot, p.answers, p.source_filter, p.date_from, p.date_to,
              p.ui_language]  # fmt: skip
    outputs = [p.question, p.chatbot, p.answers, p.sources_panel, p.notice]
    saved = ([p.browser, p.conversation, p.chatbot, p.answers],
             [p.conversation, p.past_chats, p.history_notice])  # fmt: skip
    answering = []

    def answer_after(locked):
        """Write the answer, then give Ask back and keep the conversation."""
        # no Gradio limit of its own (1 by default: one user at a time): the shared
        # answer cap of rag.access applies, as it does to /v1 and Slack
        # and "multiple": a stopped answer stays pending in the page, which would drop
        # the next question (Ask is off while an answer is written, so no double sends)
        answer = locked.then(respond, inputs, outputs, concurrency_limit=None,
                             trigger_mode="multiple")  # fmt: skip
        answer.then(unlock, None, [p.send, p.stop], queue=False).then(remember, *saved)
        answering.append(answer)
        return answer

    for trigger in (p.send.click, p.question.submit):
        answer_after(trigger(lock, None, [p.send, p.stop], queue=False))
    # regenerate the last answer, or ask an edited question again: the conversation
    # is cut where it changes, and the question goes through the same steps
    cut = [p.question, p.chatbot, p.answers]
    for trigger, step in ((p.chatbot.retry, asking.retry_last),
                          (p.chatbot.edit, asking.edit_question)):  # fmt: skip
        prepared = trigger(step, [p.chatbot, p.answers], cut, queue=False)
        answered = answer_after(prepared.then(lock, None, [p.send, p.stop], queue=False))
        if step is asking.retry_last:  # a quoted answer regenerated says why it is the same
            answered.then(said_again, [p.chatbot, p.answers, p.ui_language], [p.chatbot])
    p.stop.click(asking.stopped, [p.chatbot, p.answers], [p.send, p.stop, p.answers],
                 cancels=answering, queue=False).then(remember, *saved)  # fmt: skip


def _wire_history(web: gr.Blocks, p: SimpleNamespace, service: Service) -> None:
    """A new chat, past conversations (reopen, delete) and ratings."""

    def fresh_chat(lang):
        empty = sources_html(rendering.empty_answer(), {}, LABELS[lang])
        return [], [], empty, "", None, gr.update(value=None)

    fresh = [p.chatbot, p.answers, p.sources_panel, p.notice, p.conversation, p.past_chats]
    p.new_chat.click(fresh_chat, [p.ui_language], fresh)
    # the chat's own trash icon too: a rating after it must not rate an earlier answer
    p.chatbot.clear(fresh_chat, [p.ui_language], fresh)

    def reopen(browser_id, conversation_id, lang, request: gr.Request):
        return past.reopen(service, request, browser_id, conversation_id, lang)

    reopened = [p.chatbot, p.answers, p.sources_panel, p.notice, p.conversation,
                p.history_notice]  # fmt: skip
    p.past_chats.input(reopen, [p.browser, p.past_chats, p.ui_language], reopened)

    def delete(browser_id, chosen, shown, lang, request: gr.Request):
        return past.forget(service, request, browser_id, chosen, shown, lang)

    p.forget.click(delete, [p.browser, p.past_chats, p.conversation, p.ui_language],
                   [p.past_chats, p.history_notice, *fresh, p.deleted, p.undo_forget])  # fmt: skip

    def undo(browser_id, deleted, on_screen, lang, request: gr.Request):
        return past.undo_forget(service, request, browser_id, deleted, on_screen, lang)

    p.undo_forget.click(undo, [p.browser, p.deleted, p.conversation, p.ui_language],
                        [p.past_chats, p.history_notice, p.chatbot, p.answers, p.sources_panel,
                         p.conversation, p.deleted, p.undo_forget])  # fmt: skip

    def start_history(browser_id, request: gr.Request):
        return past.start_history(service, request, browser_id)

    web.load(start_history, [p.browser], [p.browser, p.past_chats])

    def like(given, lang, data: gr.LikeData, request: gr.Request):
        return past.record_feedback(service, request, given, lang, data)

    p.chatbot.like(like, [p.answers, p.ui_language], [p.notice])


def _wire_library(web: gr.Blocks, p: SimpleNamespace, service: Service) -> None:
    """Adding articles and feeds, and what is indexed, read anew on each visit and after
    each change (the header's line too, not only the Library's table)."""
    pasted_form = [p.add_title, p.add_text, p.add_source, p.add_date, p.add_url]

    def refresh(lang):  # what is indexed now, not at server start
        now = service.stats()
        return (stats_html(now, LABELS[lang]), gr.update(choices=service.sources(now)),
                library.indexed(now, lang))  # fmt: skip

    refreshed = [p.stats_panel, p.source_filter, p.indexed]

    def then_refresh(event):
        event.then(refresh, [p.ui_language], refreshed, show_progress="hidden")

    def add_pasted(title, text, source, date, url, lang, request: gr.Request):
        return library.add_pasted(service, request, title, text, source, date, url, lang)

    # the form is emptied once its article is in
    then_refresh(p.add_button.click(add_pasted, [*pasted_form, p.ui_language],
                                    [p.library_notice, *pasted_form]))  # fmt: skip

    def add_uploaded(path, lang, request: gr.Request):
        return library.add_uploaded(service, request, path, lang)

    then_refresh(p.upload_button.click(add_uploaded, [p.upload, p.ui_language], p.library_notice))

    def feeds_action(action):
        def run(url, lang, request: gr.Request):
            return library.feeds_action(service, request, action, url, lang)

        return run

    feeds_outputs = [p.feeds_notice, p.feeds_panel]
    for button, action in ((p.feed_add, "add"), (p.feed_poll, "poll"),
                           (p.feed_remove, "remove")):  # fmt: skip
        then_refresh(button.click(feeds_action(action), [p.feed_url, p.ui_language],
                                  feeds_outputs))  # fmt: skip

    def show_feeds(lang, request: gr.Request):
        return library.feeds_view(service, request, lang)

    p.library_tab.select(show_feeds, [p.ui_language], [p.feeds_panel])
    for event in (web.load, p.library_tab.select, p.chat_tab.select):
        event(refresh, [p.ui_language], refreshed, show_progress="hidden")  # no spinner


def _wire_language(web: gr.Blocks, p: SimpleNamespace, service: Service) -> None:
    """The whole page turns right-to-left in Arabic (alignment, bubbles, the textbox), and
    the answers on screen and their sources take the new language's labels. The choice is
    kept per browser: a reload opens in it."""
    relabelled = [
        p.heading, p.language_choice, p.chat_tab, p.library_tab, p.question, p.send, p.stop,
        p.new_chat, p.past_chats, p.forget, p.undo_forget, p.filters_box, p.source_filter,
        p.date_from, p.date_to, p.add_title, p.add_text, p.add_source, p.add_date, p.add_url,
        p.add_button, p.upload, p.upload_button, p.stats_panel, p.feeds_heading, p.feed_url,
        p.feed_add, p.feed_poll, p.feed_remove, p.indexed, p.examples.dataset,
    ]  # fmt: skip

    def relabel(lang, chat, given):
        return [lang, lang, *library.relabel(service, lang),
                *asking.in_language(service, chat, given, lang)]  # fmt: skip

    shown = [p.ui_language, p.saved_language, *relabelled, p.chatbot, p.sources_panel]
    switched = p.language_choice.change(relabel, [p.language_choice, p.chatbot, p.answers],
                                        shown, js=PAGE_DIRECTION)  # fmt: skip
    switched.then(None, js=LANGUAGE_SWITCHED)  # the opened sources and the place kept

    def reopen_in(saved):  # a choice of "ar" fires the change above, as a click would
        return saved if saved in LABELS else gr.update()

    web.load(reopen_in, [p.saved_language], [p.language_choice])
