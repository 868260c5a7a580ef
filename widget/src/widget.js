/*
 * « Mes données de santé » chat widget.
 *
 * Embed on any page with one tag:
 *   <script src="https://site/widget/widget.js" data-server="https://rasa.site"
 *           data-title="Mes données de santé" defer></script>
 *
 * Talks to Rasa's socket.io channel only (the configured server), keeps the
 * conversation across reloads (session id + transcript in localStorage), and renders
 * what replies carry: text (as text, never HTML), buttons, sources, form progress.
 * On small screens (phones, or a desktop at 200 % zoom) the open widget takes the whole
 * visual viewport, and follows it when an on-screen keyboard takes part of the screen.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var SERVER = (script && script.getAttribute("data-server")) || "http://localhost:5005";
  var TITLE = (script && script.getAttribute("data-title")) || "Mes données de santé";
  var RETENTION = (script && script.getAttribute("data-retention-days")) || "90";
  var ASSETS = script && script.src ? script.src.replace(/[^/]*$/, "") : "/widget/";
  var STORE_KEY = "mds-widget:" + SERVER;
  // The privacy notice's state ("collapsed" / "expanded"), kept apart from the conversation so
  // that « Nouvelle conversation » does not show it again in full.
  var NOTICE_KEY = STORE_KEY + ":notice";
  var MAX_CHARS = 1000;
  // Same breakpoint as widget.css: below it the open widget is full-screen.
  var FULL_SCREEN = "(max-width: 40em), (max-height: 31.25em)";
  // Below this height (CSS px) the full-screen panel keeps only the header, the log and the input.
  var CRAMPED = 320;

  // --- state kept across reloads -------------------------------------------------
  function loadState() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      var state = raw ? JSON.parse(raw) : null;
      if (state && typeof state.sessionId === "string" && Array.isArray(state.items)) return state;
    } catch (e) { /* storage unavailable or corrupt: start afresh */ }
    return { sessionId: newSessionId(), items: [], open: false };
  }
  function saveState() {
    // A letter link's secret key (?cle=…) never goes to storage: anyone using this browser later
    // could read the letter. The link works in the message as it arrived, not after a reload.
    var json = JSON.stringify(state, function (key, value) {
      return typeof value === "string" ? value.replace(/([?&]cle=)[A-Za-z0-9_-]+/g, "$1[clé retirée]") : value;
    });
    try { window.localStorage.setItem(STORE_KEY, json); } catch (e) { /* private mode */ }
  }
  function newSessionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var state = loadState();
  function loadNoticeState() {
    try { return window.localStorage.getItem(NOTICE_KEY); } catch (e) { return null; }
  }
  function saveNoticeState(value) {
    try { window.localStorage.setItem(NOTICE_KEY, value); } catch (e) { /* private mode */ }
  }

  // --- DOM helpers (text only: no innerHTML anywhere) -------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function safeUrl(value) {
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }
  function link(href, label) {
    var url = safeUrl(href);
    if (!url) return document.createTextNode(label);
    var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label });
    a.appendChild(el("span", { className: "mds-sr-only", text: " (nouvelle fenêtre)" }));
    return a;
  }
  // Plain text with line breaks and http(s) links made clickable.
  function richText(text) {
    var fragment = document.createDocumentFragment();
    String(text).split("\n").forEach(function (line, index) {
      if (index > 0) fragment.appendChild(el("br"));
      var pattern = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
      var last = 0, match;
      while ((match = pattern.exec(line)) !== null) {
        fragment.appendChild(document.createTextNode(line.slice(last, match.index)));
        fragment.appendChild(link(match[0], match[0]));
        last = match.index + match[0].length;
      }
      fragment.appendChild(document.createTextNode(line.slice(last)));
    });
    return fragment;
  }
  function formatDate(iso) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return parts ? parts[3] + "/" + parts[2] + "/" + parts[1] : "";
  }

  // --- layout ------------------------------------------------------------------------
  var root = el("div", { className: "mds-widget", "data-mds-widget": "" });
  var launcher = el("button", {
    className: "mds-launcher", type: "button", "aria-expanded": "false", "aria-controls": "mds-panel",
    text: "Une question sur vos données de santé ?",
  });
  var panel = el("section", { className: "mds-panel", id: "mds-panel", "aria-label": TITLE, hidden: "" });
  var heading = el("h2", { className: "mds-title", id: "mds-title", text: TITLE });
  var resetButton = el("button", { type: "button", className: "mds-secondary", text: "Nouvelle conversation" });
  var closeButton = el("button", { type: "button", className: "mds-close", "aria-label": "Fermer la fenêtre de discussion", text: "×" });
  var header = el("div", { className: "mds-header" }, [heading, el("div", { className: "mds-header-actions" }, [resetButton, closeButton])]);
  // The privacy notice: in full until the citizen has read it (reduced by them, or once their first
  // message is sent), then one line with its essential warning and « En savoir plus ».
  var noticeDetails = el("span", { className: "mds-notice-details", id: "mds-notice-details",
    text: "Assistant automatique. Vos messages sont conservés " + RETENTION + " jours, avec adresses e-mail, " +
      "téléphones, noms, adresses postales et détails de santé masqués, pour améliorer le service. " });
  var noticeToggle = el("button", { type: "button", className: "mds-notice-toggle", "aria-controls": "mds-notice-details" });
  var notice = el("div", { className: "mds-notice" }, [
    el("p", { id: "mds-notice" }, [noticeDetails, document.createTextNode("N'écrivez ni détail de santé ni numéro de sécurité sociale.")]),
    noticeToggle,
  ]);
  var status = el("p", { className: "mds-status", role: "status", hidden: "" });
  var log = el("div", { className: "mds-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("p", { className: "mds-typing", hidden: "", "aria-hidden": "true", text: "L'assistant écrit…" });
  var textarea = el("textarea", { id: "mds-input", rows: "2", maxlength: String(MAX_CHARS), "aria-describedby": "mds-notice", autocomplete: "off" });
  var label = el("label", { for: "mds-input", className: "mds-label", text: "Votre question" });
  var send = el("button", { type: "submit", className: "mds-send", text: "Envoyer" });
  var form = el("form", { className: "mds-form" }, [label, el("div", { className: "mds-input-row" }, [textarea, send])]);
  panel.appendChild(header);
  panel.appendChild(notice);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(panel);

  var noticeChosen = loadNoticeState();  // null until reduced or expanded once
  function setNoticeCollapsed(collapsed, remember) {
    noticeDetails.hidden = collapsed;
    noticeToggle.textContent = collapsed ? "En savoir plus" : "Réduire";
    noticeToggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    if (remember) { noticeChosen = collapsed ? "collapsed" : "expanded"; saveNoticeState(noticeChosen); }
  }
  setNoticeCollapsed(noticeChosen === "collapsed", false);
  noticeToggle.addEventListener("click", function () { setNoticeCollapsed(!noticeDetails.hidden, true); });

  // --- keeping the latest message in view ------------------------------------------------
  // The log scrolls by itself (scrollTop, never scrollIntoView or focus): the page does not move
  // and the focus stays where the citizen is typing. A message taller than the log is shown
  // from its start, so that a long answer is read from its first line.
  var followLatest = true;
  function latestTarget() {
    var last = log.lastElementChild;
    var bottom = log.scrollHeight - log.clientHeight;
    if (!last) return bottom;
    var top = last.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop - 12;
    return Math.max(0, Math.min(bottom, Math.floor(top)));
  }
  function scrollToLatest() {
    if (panel.hidden) return;
    followLatest = true;
    log.scrollTop = latestTarget();
  }
  // Whether the citizen has scrolled back to read earlier messages: then a change of the log's
  // size (keyboard, notice, typing indicator) leaves their reading position alone.
  log.addEventListener("scroll", function () {
    followLatest = log.scrollTop >= latestTarget() - 4;
  }, { passive: true });
  // The log's size changes (keyboard, notice, typing indicator) and so do its messages' (the
  // page's web fonts arriving after the first layout, a reply completed late): keep following.
  var resizes = typeof window.ResizeObserver === "function"
    ? new window.ResizeObserver(function () { if (followLatest) scrollToLatest(); }) : null;
  function watchSize(node) { if (resizes) resizes.observe(node); }
  watchSize(log);

  // --- full screen on small screens, above the on-screen keyboard ----------------------------
  // Phones open the keyboard over the page: the layout viewport (what position: fixed uses) keeps
  // its height, only the visual viewport shrinks. The full-screen panel is sized and placed on the
  // visual viewport, so that the input stays visible above the keyboard.
  var fullScreen = window.matchMedia ? window.matchMedia(FULL_SCREEN) : null;
  function fitToVisualViewport() {
    var vv = window.visualViewport;
    var active = vv && !panel.hidden && fullScreen && fullScreen.matches && Math.abs(vv.scale - 1) < 0.01;
    if (!active) {
      // No keyboard logic while pinch-zoomed: the citizen is magnifying the page, not typing.
      root.style.removeProperty("--mds-vv-height");
      root.style.removeProperty("--mds-vv-top");
      root.style.removeProperty("--mds-vv-left");
      root.style.removeProperty("--mds-vv-width");
      root.classList.remove("mds-keyboard");
      root.classList.toggle("mds-cramped", !panel.hidden && !!fullScreen && fullScreen.matches && window.innerHeight < CRAMPED);
      return;
    }
    root.style.setProperty("--mds-vv-height", vv.height + "px");
    root.style.setProperty("--mds-vv-top", vv.offsetTop + "px");
    root.style.setProperty("--mds-vv-left", vv.offsetLeft + "px");
    root.style.setProperty("--mds-vv-width", vv.width + "px");
    // A keyboard covers the bottom safe area (home indicator): no need to keep it free then.
    root.classList.toggle("mds-keyboard", document.documentElement.clientHeight - vv.height > 120);
    // A landscape phone with its keyboard open leaves a strip: the input comes first there.
    root.classList.toggle("mds-cramped", vv.height < CRAMPED);
    if (followLatest) scrollToLatest();
  }
  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", fitToVisualViewport);
    window.visualViewport.addEventListener("scroll", fitToVisualViewport);
  }
  window.addEventListener("resize", fitToVisualViewport);
  if (fullScreen) {
    if (fullScreen.addEventListener) fullScreen.addEventListener("change", fitToVisualViewport);
    else if (fullScreen.addListener) fullScreen.addListener(fitToVisualViewport);
  }

  // --- rendering -----------------------------------------------------------------------
  function renderItem(item, batch) {
    var node;
    if (item.type === "user") {
      node = el("div", { className: "mds-msg mds-user" }, [el("span", { className: "mds-sr-only", text: "Vous : " }), document.createTextNode(item.text)]);
    } else if (item.type === "bot") {
      node = el("div", { className: "mds-msg mds-bot" + (item.fallback ? " mds-fallback" : "") }, [el("span", { className: "mds-sr-only", text: "Assistant : " })]);
      if (item.progress) {
        var p = item.progress;
        node.appendChild(el("p", { className: "mds-progress", text: "Étape " + p.step + " sur " + p.steps }));
      }
      if (item.text) node.appendChild(el("p", { className: "mds-text" }, [richText(item.text)]));
      if (item.sources && item.sources.length) {
        // One compact paragraph: « Sources : A ; B — vérifié le JJ/MM/AAAA » (the date is the fact's).
        var list = el("ul", { className: "mds-source-list", role: "list" });
        item.sources.forEach(function (source, index) {
          list.appendChild(el("li", {}, [link(source.url, source.title),
            index < item.sources.length - 1 ? document.createTextNode(" ;") : null]));
        });
        node.appendChild(el("div", { className: "mds-sources" }, [
          document.createTextNode(item.sources.length > 1 ? "Sources : " : "Source : "), list,
          item.verifiedOn ? document.createTextNode(" — vérifié le " + formatDate(item.verifiedOn)) : null,
          // The rating follows on the same line when there is room (a fact answer always has sources).
          item.feedback ? feedbackRow(item) : null,
        ]));
      }
      if (item.buttons && item.buttons.length) {
        var group = el("div", { className: "mds-buttons", role: "group", "aria-label": "Suggestions" });
        item.buttons.forEach(function (button) {
          var b = el("button", { type: "button", className: "mds-suggestion", text: button.title });
          b.addEventListener("click", function () {
            // The suggestions give way once chosen (widget.css): the focus goes to the conversation
            // rather than to nowhere (the input would open a phone's keyboard).
            var focused = document.activeElement === b;
            sendMessage(button.payload, button.title);
            if (focused) log.focus({ preventScroll: true });
          });
          group.appendChild(b);
        });
        node.appendChild(group);
      }
      if (item.feedback && !(item.sources && item.sources.length)) node.appendChild(feedbackRow(item));
    } else {
      node = el("p", { className: "mds-msg mds-system", text: item.text });
    }
    log.appendChild(node);
    watchSize(node);
    if (!batch) scrollToLatest();
  }
  // « Cette réponse vous a-t-elle aidé ? » under a fact answer: Oui / Non, changeable (the choice
  // is kept with the conversation in localStorage and shown as pressed).
  var FEEDBACK_SHOWN = { Oui: "Oui, cette réponse m'a aidé", Non: "Non, cette réponse ne m'a pas aidé" };
  function feedbackRow(item) {
    var row = el("div", { className: "mds-feedback", role: "group", "aria-label": item.feedback.question }, [
      el("span", { className: "mds-feedback-question", text: item.feedback.question }),
    ]);
    item.feedback.buttons.forEach(function (button) {
      var b = el("button", {
        type: "button", className: "mds-feedback-choice", text: button.title,
        "aria-pressed": item.feedbackChoice === button.title ? "true" : "false",
      });
      b.addEventListener("click", function () {
        item.feedbackChoice = button.title;
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (other) {
          other.setAttribute("aria-pressed", other === b ? "true" : "false");
        });
        sendMessage(button.payload, FEEDBACK_SHOWN[button.title] || button.title);
      });
      row.appendChild(b);
    });
    return row;
  }
  function addItem(item) {
    state.items.push(item);
    if (state.items.length > 200) state.items = state.items.slice(-200);
    saveState();
    renderItem(item);
  }
  function renderAll() {
    if (resizes) { resizes.disconnect(); watchSize(log); }
    while (log.firstChild) log.removeChild(log.firstChild);
    state.items.forEach(function (item) { renderItem(item, true); });
    scrollToLatest();
  }

  // A reply comes as several events (text + buttons, then custom): fold them into one item.
  var current = null;
  var settleTimer = null;
  function onBotEvent(data) {
    if (!data || typeof data !== "object") return;
    typing.hidden = true;
    if (!current) current = { type: "bot", text: "", buttons: [] };
    if (typeof data.text === "string") current.text = current.text ? current.text + "\n\n" + data.text : data.text;
    var buttons = data.quick_replies || data.buttons;
    if (Array.isArray(buttons)) {
      buttons.forEach(function (b) {
        if (b && typeof b.title === "string" && typeof b.payload === "string") current.buttons.push({ title: b.title, payload: b.payload });
      });
    }
    var custom = data.custom || (data.attachment && data.attachment.payload) || null;
    if (custom && typeof custom === "object") {
      if (Array.isArray(custom.sources)) current.sources = custom.sources.filter(function (s) { return s && s.url && s.title; });
      if (custom.verified_on) current.verifiedOn = String(custom.verified_on);
      if (custom.form && custom.form.step && custom.form.steps) current.progress = { step: Number(custom.form.step), steps: Number(custom.form.steps) };
      if (custom.fallback) current.fallback = String(custom.fallback);
      if (custom.fact_id) current.factId = String(custom.fact_id);
      var fb = custom.feedback;
      if (fb && typeof fb.question === "string" && Array.isArray(fb.buttons)) {
        var choices = fb.buttons.filter(function (b) {
          return b && typeof b.title === "string" && typeof b.payload === "string" && b.payload.indexOf("/give_feedback{") === 0;
        }).map(function (b) { return { title: b.title, payload: b.payload }; });
        if (choices.length) current.feedback = { question: fb.question, buttons: choices };
      }
      if (custom.error === "rate_limited") current.fallback = "rate_limited";
    }
    clearTimeout(settleTimer);
    settleTimer = setTimeout(flushBot, 250);
  }
  function flushBot() {
    if (current && (current.text || current.buttons.length)) addItem(current);
    else if (current) attachToLastReply(current);
    current = null;
  }
  // The custom part of a reply (sources, form progress) can arrive after the settle delay on a
  // busy server: it belongs to the reply just shown, not to a new, empty one.
  function attachToLastReply(extra) {
    var last = state.items[state.items.length - 1];
    if (!last || last.type !== "bot" || !log.lastChild) return;
    ["sources", "verifiedOn", "progress", "fallback", "factId", "feedback"].forEach(function (key) {
      if (extra[key] !== undefined) last[key] = extra[key];
    });
    saveState();
    if (resizes) resizes.unobserve(log.lastChild);
    log.removeChild(log.lastChild);
    renderItem(last);
  }

  // --- connection --------------------------------------------------------------------------
  var socket = null;
  var pending = [];
  var confirmed = false;
  function showStatus(text, retry) {
    while (status.firstChild) status.removeChild(status.firstChild);
    if (!text) { status.hidden = true; return; }
    status.appendChild(document.createTextNode(text + " "));
    if (retry) {
      var b = el("button", { type: "button", className: "mds-secondary", text: "Réessayer" });
      b.addEventListener("click", function () { connect(true); });
      status.appendChild(b);
    }
    status.hidden = false;
  }
  var clientLoading = false;
  function loadClient(then) {
    if (clientLoading) return;
    clientLoading = true;
    var tag = el("script", { src: ASSETS + "socket.io.min.js" });
    tag.addEventListener("load", function () { clientLoading = false; then(); });
    tag.addEventListener("error", function () {
      clientLoading = false;
      showStatus("Le service de discussion n'a pas pu être chargé. Votre message est conservé.", true);
    });
    document.head.appendChild(tag);
  }
  function connect(force) {
    if (typeof window.io !== "function") { loadClient(function () { connect(force); }); return; }
    if (socket && !force) return;
    if (socket) socket.close();
    confirmed = false;
    // A citizen learns within seconds that the service is slow to answer, and within about half a
    // minute at worst (4 attempts of 5 s, 1-4 s apart) that it is unreachable; their message is kept.
    socket = window.io(SERVER, {
      // WebSocket first; long-polling when a network blocks WebSockets.
      path: "/socket.io", transports: ["websocket", "polling"], tryAllTransports: true, reconnectionAttempts: 3, timeout: 5000, reconnectionDelayMax: 4000,
    });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      if (typeof sessionId === "string" && sessionId !== state.sessionId) { state.sessionId = sessionId; saveState(); }
      confirmed = true;
      showStatus("");
      var queue = pending; pending = [];
      queue.forEach(function (m) { emitMessage(m); });
    });
    socket.on("bot_uttered", onBotEvent);
    socket.on("disconnect", function () {
      confirmed = false;
      showStatus("Connexion interrompue, reconnexion en cours…", false);
    });
    socket.io.on("reconnect_failed", function () {
      typing.hidden = true;
      showStatus("Le service est injoignable pour le moment. Votre message est conservé.", true);
    });
    socket.on("connect_error", function () {
      if (!socket.active) { typing.hidden = true; showStatus("Le service est injoignable pour le moment. Votre message est conservé.", true); }
      else showStatus("Le service ne répond pas, nouvelle tentative… Votre message est conservé.", false);
    });
  }
  function emitMessage(payload) {
    typing.hidden = false;
    socket.emit("user_uttered", { message: payload, session_id: state.sessionId });
  }
  function sendMessage(payload, shown) {
    payload = String(payload || "").trim();
    if (!payload) return;
    addItem({ type: "user", text: shown || payload });
    if (socket && confirmed) emitMessage(payload);
    else { pending.push(payload); connect(false); showStatus("Connexion en cours… Votre message partira dès que possible.", false); }
  }

  // --- interactions --------------------------------------------------------------------------
  function showPanel(open) {
    panel.hidden = !open;
    root.classList.toggle("mds-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    fitToVisualViewport();
    if (open) scrollToLatest();
  }
  function setOpen(open) {
    state.open = open;
    saveState();
    showPanel(open);
    if (open) { connect(false); textarea.focus({ preventScroll: true }); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
    // The notice has been read once the citizen writes: from now on it takes one line.
    if (noticeChosen === null) setNoticeCollapsed(true, true);
    sendMessage(text);
  });
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });
  resetButton.addEventListener("click", function () {
    state = { sessionId: newSessionId(), items: [], open: true };
    saveState();
    renderAll();
    addItem({ type: "system", text: "Nouvelle conversation commencée." });
    connect(true);
    textarea.focus({ preventScroll: true });
  });

  function mount() {
    var stylesheet = el("link", { rel: "stylesheet", href: ASSETS + "widget.css" });
    // Until the stylesheet applies, the log does not scroll: show the latest message once it does.
    stylesheet.addEventListener("load", function () { fitToVisualViewport(); scrollToLatest(); });
    document.head.appendChild(stylesheet);
    document.body.appendChild(root);
    renderAll();
    if (state.open) { showPanel(true); connect(false); }
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.MesDonneesDeSanteWidget = { open: function () { setOpen(true); } };
})();
