// Messenger's progressive enhancement. Every feature works without this file; with it:
// Enter sends (Shift+Enter for a new line), times show in the reader's time zone, a message that
// arrives twice (the POST answer and the socket push) shows once, a users-list row's data-online
// follows its live presence dot, a conversation opened at a message scrolls to it, the composer keeps
// its height in step with its text and refuses to send blanks, and a dropped socket shows
// "Reconnecting…".
(function () {
  "use strict";

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var recent = Date.now() - d.getTime() < 20 * 3600 * 1000;
      el.textContent = (recent ? timeFormat : dateFormat).format(d);
      el.title = d.toLocaleString();
    });
  }

  // Keep the first element of each message id; later copies are the same message delivered twice.
  function dedupe() {
    var list = document.getElementById("messages");
    if (!list) return;
    var seen = {};
    list.querySelectorAll("[data-message-id]").forEach(function (el) {
      var id = el.getAttribute("data-message-id");
      if (seen[id]) el.remove();
      else seen[id] = true;
    });
    var empty = document.getElementById("empty-note");
    if (empty && list.querySelector("[data-message-id]")) empty.remove();
  }

  // A presence push replaces a user's dots (the same fragment for every viewer); the row carries the
  // state too, as data-online, for whoever reads the page.
  function presence() {
    document.querySelectorAll("li[data-user] [data-dot]").forEach(function (dot) {
      dot.closest("li[data-user]").setAttribute("data-online", dot.getAttribute("data-online"));
    });
  }

  // The text is required unless a file is attached (the markup leaves it optional, so a page
  // without JavaScript can send a file alone).
  function composerFile() {
    var input = document.querySelector("form#composer input[type=file]");
    return !!(input && input.files && input.files.length > 0);
  }
  function composerRequired() {
    var body = document.querySelector("form#composer #body");
    if (body) body.required = !composerFile();
  }

  // A conversation opened at a message (a search result) shows that message, once, rather than the
  // newest.
  function focusMessage() {
    var el = document.querySelector("[data-focus]:not([data-focus-shown])");
    if (!el) return;
    el.setAttribute("data-focus-shown", "");
    el.scrollIntoView({ block: "center" });
  }

  function refresh(root) {
    localTimes(root || document);
    dedupe();
    presence();
    composerRequired();
    focusMessage();
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.matches && e.target.matches("form#composer input[type=file]")) composerRequired();
  });

  document.addEventListener("DOMContentLoaded", function () { refresh(document); });
  document.addEventListener("htmx:afterSettle", function (e) { refresh(e.target); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { refresh(e.target); });
  document.addEventListener("htmx:wsAfterMessage", function () { refresh(document); });

  // The socket's "open" frame says whether the page is seen: a conversation in a hidden tab does not
  // mark arriving messages read. Capture runs before htmx's own visibilitychange trigger sends it.
  document.addEventListener("visibilitychange", function () {
    document.querySelectorAll("input.page-visibility").forEach(function (el) {
      el.value = document.visibilityState;
    });
  }, true);

  // htmx-ext-ws reconnects by itself; meanwhile say so, quietly.
  function connection(up) {
    var el = document.getElementById("connection");
    if (el) el.hidden = up;
  }
  // Except after 4008: the server closed this page, the user's oldest, because too many are open, and
  // htmx-ext-ws does not reconnect after that code (two pages cannot take turns evicting each other).
  // Say why it stopped instead.
  function tooManyPages() {
    var box = document.getElementById("socket-error");
    if (!box) return;
    box.setAttribute("role", "alert");
    box.className = "alert fixed inset-x-4 bottom-24 z-50 mx-auto max-w-md shadow-lg";
    box.textContent = "Messenger is open in too many other tabs or windows, so this one stopped updating. Reload it to use it here.";
  }
  document.addEventListener("htmx:wsClose", function (e) {
    var ev = e.detail && e.detail.event;
    if (ev && ev.code === 4008) tooManyPages();
    else connection(false);
  });
  document.addEventListener("htmx:wsOpen", function () { connection(true); });

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !t || t.id !== "body") return;
    var form = t.closest("form#composer");
    if (!form) return;
    e.preventDefault();
    if (t.value.trim() !== "" || composerFile()) form.requestSubmit();
  });

  // The composer grows by rows, not by an inline style: htmx settles a swapped element's style
  // attribute onto its replacement, which the CSP (no inline styles) refuses. A message of blanks is
  // invalid like an empty one (the field is required), so Send stays in the page.
  var maxRows = 6;
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t || t.id !== "body") return;
    t.setCustomValidity(t.value !== "" && t.value.trim() === "" && !composerFile() ? "Write a message first." : "");
    t.rows = 1;
    while (t.scrollHeight > t.clientHeight && t.rows < maxRows) t.rows++;
  });
})();
