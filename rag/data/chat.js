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
    source.scrollIntoView({ block: "nearest", behavior: "smooth" });
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
      if (!/copy/i.test(label)) return;
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
    });
  };
  new MutationObserver(nameSoon).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["aria-label", "lang"],
  });
  nameMessages();
}
