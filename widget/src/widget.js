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
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var SERVER = (script && script.getAttribute("data-server")) || "http://localhost:5005";
  var TITLE = (script && script.getAttribute("data-title")) || "Mes données de santé";
  var RETENTION = (script && script.getAttribute("data-retention-days")) || "90";
  var ASSETS = script && script.src ? script.src.replace(/[^/]*$/, "") : "/widget/";
  var STORE_KEY = "mds-widget:" + SERVER;
  var MAX_CHARS = 1000;

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
  var notice = el("p", { className: "mds-notice", id: "mds-notice" }, [
    document.createTextNode(
      "Assistant automatique. Vos messages sont conservés " + RETENTION + " jours, avec adresses e-mail, " +
      "téléphones et noms masqués, pour améliorer le service. N'écrivez ni détail de santé ni numéro de sécurité sociale."
    ),
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

  // --- rendering -----------------------------------------------------------------------
  function renderItem(item) {
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
        var list = el("ul", { className: "mds-sources" });
        item.sources.forEach(function (source) {
          list.appendChild(el("li", {}, [document.createTextNode("Source : "), link(source.url, source.title),
            document.createTextNode(item.verifiedOn ? " — vérifié le " + formatDate(item.verifiedOn) : "")]));
        });
        node.appendChild(list);
      }
      if (item.buttons && item.buttons.length) {
        var group = el("div", { className: "mds-buttons", role: "group", "aria-label": "Suggestions" });
        item.buttons.forEach(function (button) {
          var b = el("button", { type: "button", className: "mds-suggestion", text: button.title });
          b.addEventListener("click", function () { sendMessage(button.payload, button.title); });
          group.appendChild(b);
        });
        node.appendChild(group);
      }
    } else {
      node = el("p", { className: "mds-msg mds-system", text: item.text });
    }
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }
  function addItem(item) {
    state.items.push(item);
    if (state.items.length > 200) state.items = state.items.slice(-200);
    saveState();
    renderItem(item);
  }
  function renderAll() {
    while (log.firstChild) log.removeChild(log.firstChild);
    state.items.forEach(renderItem);
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
    ["sources", "verifiedOn", "progress", "fallback", "factId"].forEach(function (key) {
      if (extra[key] !== undefined) last[key] = extra[key];
    });
    saveState();
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
  function setOpen(open) {
    state.open = open;
    saveState();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { connect(false); textarea.focus(); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textarea.value;
    if (!text.trim()) return;
    textarea.value = "";
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
    textarea.focus();
  });

  function mount() {
    document.head.appendChild(el("link", { rel: "stylesheet", href: ASSETS + "widget.css" }));
    document.body.appendChild(root);
    renderAll();
    if (state.open) { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); connect(false); }
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.MesDonneesDeSanteWidget = { open: function () { setOpen(true); } };
})();
