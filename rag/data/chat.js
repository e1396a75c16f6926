() => {
  // The chat's behaviour beyond Gradio's own: markers open their answer's own source,
  // Copy gives the answer as plain text with its sources, and each message's accessible
  // name is plain text (Gradio's are the message's raw HTML). Loaded once per page.
  const plainTextOf = (message) => {
    const plain = message.querySelector("pre.plain-text");
    return plain ? plain.textContent : message.innerText.trim();
  };

  document.addEventListener("click", (event) => {
    const marker = event.target.closest("#chat a.marker");
    if (!marker) return;
    const source = document.getElementById(marker.getAttribute("href").slice(1));
    if (!source) return;
    event.preventDefault();
    const fold = source.closest("details");
    if (fold) fold.open = true;
    source.classList.add("emphasised");
    setTimeout(() => source.classList.remove("emphasised"), 2500);
    source.setAttribute("tabindex", "-1");
    source.focus({ preventScroll: true });
    // the quote, not the source's top: an opened source can be taller than the chat
    const quote = source.querySelector("mark.quote");
    (quote || source).scrollIntoView({ block: quote ? "center" : "nearest", behavior: "smooth" });
    // the card has done its job: it must not cover the answer while the pointer rests
    const cite = marker.closest(".cite");
    if (cite) {
      cite.classList.add("dismissed");
      cite.addEventListener("mouseleave", () => cite.classList.remove("dismissed"), { once: true });
    }
  });

  // the clipboard API exists only on https or localhost; elsewhere, the older way
  const copyText = (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  };

  // Gradio's copy button writes the message's markup; for an answer, write its plain text
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest("#chat button");
      const label = (button && button.getAttribute("aria-label")) || "";
      if (!/copy|نسخ/i.test(label)) return;
      // a message's buttons follow its row
      let row = button.closest(".message-buttons");
      while (row && !row.classList.contains("message-row")) row = row.previousElementSibling;
      const plain = row && row.querySelector("pre.plain-text");
      if (!plain) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      copyText(plain.textContent).then(() => {
        button.classList.add("copied");
        setTimeout(() => button.classList.remove("copied"), 2000);
      });
    },
    true,
  );

  // The language switch re-renders the answers with the new labels: the sources opened
  // under them would close and the chat would show another place. The switch keeps the view
  // first, and gives it back once the answers are re-rendered.
  const chatScroller = () => document.querySelector("#chat .bubble-wrap");
  const folds = () => [...document.querySelectorAll("#chat details.answer-sources")];
  let kept = null;
  const keepView = () => {
    const scroller = chatScroller();
    kept = {
      open: folds().map((fold) => fold.open),
      top: scroller ? scroller.scrollTop : 0,
    };
  };
  const restoreView = (tries = 20) => {
    if (!kept) return;
    const shown = folds();
    if (shown.length !== kept.open.length && tries > 0) {
      setTimeout(() => restoreView(tries - 1), 50);  // not re-rendered yet
      return;
    }
    shown.forEach((fold, i) => { if (kept.open[i]) fold.open = true; });
    const scroller = chatScroller();
    if (scroller) scroller.scrollTop = kept.top;
    kept = null;
  };

  window.ragNews = {
    switchingLanguage: keepView,
    languageSwitched: () => restoreView(),
  };

  // The words inside Gradio's upload box are Gradio's, in the browser's language: they
  // follow the interface language instead (UPLOAD_WORDS: rag/web/labels.py)
  const UPLOAD_WORDS = __UPLOAD_WORDS__;
  const localizeUpload = () => {
    const words = UPLOAD_WORDS[document.documentElement.lang] || UPLOAD_WORDS.en;
    for (const box of document.querySelectorAll('#upload [data-testid="upload-text"]')) {
      const said = [...box.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim());
      const or = box.querySelector(".or");
      if (said.length !== 2 || !or) continue;  // not the box this was written for
      [[said[0], words.drop + " "], [or, words.or], [said[1], " " + words.click]].forEach(
        ([node, text]) => { if (node.textContent !== text) node.textContent = text; });
      const button = box.closest("button");
      if (button && button.getAttribute("aria-label") !== words.name) {
        button.setAttribute("aria-label", words.name);
      }
    }
  };

  const ROLES = {
    en: { bot: "Answer: ", user: "Question: " },
    ar: { bot: "الإجابة: ", user: "السؤال: " },
  };
  const nameMessages = () => {
    const roles = ROLES[document.documentElement.lang] || ROLES.en;
    for (const role of ["bot", "user"]) {
      for (const message of document.querySelectorAll(`#chat [data-testid="${role}"]`)) {
        const name = roles[role] + plainTextOf(message);
        if (message.getAttribute("aria-label") !== name) message.setAttribute("aria-label", name);
      }
    }
  };
  // once a frame at most: a streamed answer changes the page at every token
  let naming = false;
  const nameSoon = () => {
    if (naming) return;
    naming = true;
    requestAnimationFrame(() => {
      naming = false;
      nameMessages();
      localizeUpload();
    });
  };
  new MutationObserver(nameSoon).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["aria-label", "lang"],
  });
  nameMessages();
  localizeUpload();
}
