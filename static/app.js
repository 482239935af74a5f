// Messenger's progressive enhancement. Every feature works without this file; with it:
// Enter sends (Shift+Enter for a new line), times show in the reader's time zone, a message that
// arrives twice (the POST answer and the socket push) shows once, a users-list row's data-online
// follows its live presence dot, the title counts unread messages live, a conversation opened at a
// message scrolls to it, the composer keeps its height in step with its text and refuses to send
// blanks, a message being edited saves with Enter too, Reply sets the composer's reply chip in place,
// a dropped socket shows "Reconnecting…", and a file can be dropped or pasted into the composer, shows
// its upload's progress and survives a refused send.
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

  // While messages are unread the title starts with "(N) ": the server renders it so and keeps
  // #unread-total current over the socket.
  function unreadTitle() {
    var el = document.getElementById("unread-total");
    if (!el) return;
    var n = parseInt(el.getAttribute("data-unread-total"), 10) || 0;
    var base = document.title.replace(/^\(\d+\) /, "");
    document.title = n > 0 ? "(" + n + ") " + base : base;
  }

  function refresh(root) {
    localTimes(root || document);
    dedupe();
    presence();
    chosenFile();
    focusMessage();
    unreadTitle();
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.matches && e.target.matches("form#composer input[type=file]")) chosenFile();
  });

  // Attachments. The file input is the one source of truth (a form without JavaScript posts it as
  // is); drag-and-drop and paste put a file into it. While a file is chosen its name shows with a way
  // to remove it, and, once sent, the upload's progress. A send that fails brings the composer back
  // with the text (the server keeps it) and the file (kept here: a new file input starts empty).
  function fileInput() { return document.querySelector("form#composer input[type=file]"); }

  function setFile(file) {
    var input = fileInput();
    if (!input || !file) return false;
    var dt = new DataTransfer();
    dt.items.add(file);
    input.files = dt.files;
    chosenFile();
    return true;
  }

  function chosenFile() {
    composerRequired();
    var form = document.querySelector("form#composer"), input = fileInput();
    if (!form || !input) return;
    var box = form.querySelector(".attachment-chosen");
    if (!composerFile()) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.className = "attachment-chosen";
      var name = document.createElement("span");
      name.className = "attachment-name";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn-secondary text-xs";
      remove.textContent = "Remove";
      remove.addEventListener("click", function () {
        input.value = "";
        chosenFile();
      });
      var progress = document.createElement("progress");
      progress.className = "attachment-progress";
      progress.max = 100;
      progress.value = 0;
      progress.hidden = true;
      box.append(name, progress, remove);
      form.insertBefore(box, form.querySelector("[data-composer-row]"));
    }
    box.querySelector(".attachment-name").textContent = "📎 " + input.files[0].name;
  }

  var pendingFile = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (!e.target || e.target.id !== "composer") return;
    pendingFile = composerFile() ? fileInput().files[0] : null;
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = e.target && e.target.id === "composer" && e.target.querySelector(".attachment-progress");
    if (!bar || !e.detail || !e.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var cfg = e.detail && e.detail.requestConfig;
    if (!cfg || !cfg.elt || cfg.elt.id !== "composer") return; // another swap (a socket's push)
    var form = document.querySelector("form#composer");
    if (!form || !pendingFile) return;
    if (form.querySelector("[role=alert]")) setFile(pendingFile); // refused: keep the file too
    pendingFile = null;
  });
  // The request never got an answer (a body far over the limit is refused before it is read, which
  // some browsers report as a network error): nothing was swapped, the text and file are still here.
  document.addEventListener("htmx:sendError", function (e) {
    var form = e.target && e.target.closest && e.target.closest("form#composer");
    if (!form) return;
    var alert = form.querySelector("[role=alert]");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "alert mb-2";
      alert.setAttribute("role", "alert");
      form.insertBefore(alert, form.querySelector("[data-composer-row]"));
    }
    alert.textContent = "Your message was not sent: the connection failed" + (composerFile() ? " or the file is too large" : "") + ". It is still here; try again.";
    pendingFile = null;
  });

  document.addEventListener("dragover", function (e) {
    var chat = e.target && e.target.closest && e.target.closest("#chat");
    if (!chat || !fileInput() || !e.dataTransfer || Array.prototype.indexOf.call(e.dataTransfer.types, "Files") < 0) return;
    e.preventDefault();
    document.querySelector("form#composer").classList.add("composer-drop");
  });
  function dragEnd() {
    var form = document.querySelector("form#composer");
    if (form) form.classList.remove("composer-drop");
  }
  document.addEventListener("dragleave", function (e) { if (!e.relatedTarget) dragEnd(); });
  document.addEventListener("drop", function (e) {
    var chat = e.target && e.target.closest && e.target.closest("#chat");
    dragEnd();
    if (!chat || !e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    setFile(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", function (e) {
    var data = e.clipboardData;
    if (!e.target || e.target.id !== "body" || !data || data.files.length === 0 || data.getData("text/plain") !== "") return;
    e.preventDefault();
    setFile(data.files[0]);
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

  // The same in a message being edited: Enter saves it.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !t || !(t.id === "body" || t.id.indexOf("edit-body-") === 0)) return;
    var form = t.closest("form#composer, form.edit-form");
    if (!form) return;
    e.preventDefault();
    if (t.value.trim() !== "" || composerFile()) form.requestSubmit();
  });

  // Reply: a message's Reply link sets the composer's reply chip in the page (without this file it
  // opens the conversation replying); the chip's × cancels it.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-reply], a[data-reply-cancel]");
    var form = document.querySelector("form#composer");
    if (!link || !form) return;
    var input = form.querySelector("#reply-to"), chip = form.querySelector("#reply-chip");
    if (!input || !chip) return;
    e.preventDefault();
    if (link.hasAttribute("data-reply-cancel")) {
      input.value = "";
      chip.hidden = true;
    } else {
      var msg = document.getElementById("m-" + link.getAttribute("data-reply"));
      var body = msg && msg.querySelector(".message-body");
      var text = body ? body.textContent : "";
      input.value = link.getAttribute("data-reply");
      chip.querySelector("[data-reply-sender]").textContent = msg ? msg.getAttribute("data-sender") : "";
      chip.querySelector("[data-reply-text]").textContent = text.length > 100 ? text.slice(0, 100) + "…" : text;
      chip.hidden = false;
    }
    form.querySelector("#body").focus();
  });

  // A reply's quote opens the conversation at the original; when this page already holds it, it is
  // scrolled to in place instead of loading the page again.
  document.addEventListener("click", function (e) {
    var quote = e.target.closest && e.target.closest("a[data-quote]");
    var original = quote && document.getElementById("m-" + quote.getAttribute("data-quote"));
    if (!original) return;
    e.preventDefault();
    history.replaceState(history.state, "", "#" + original.id);
    original.scrollIntoView({ block: "center" });
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

// Conversation comfort: messages grouped by sender (one time per group), day separators in the
// reader's time zone, the "new messages" divider in view on opening, "jump to latest" with the number
// of messages that arrived while scrolled up (which never move what the reader is looking at), the
// place kept when older messages load above, and a draft per conversation kept in this browser.
(function () {
  "use strict";

  var groupWindow = 5 * 60 * 1000;
  var nearBottom = 80; // px from the bottom that still count as "at the latest"
  var dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
  var dayFormatYear = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

  function me() {
    var el = document.getElementById("comfort");
    return el ? el.getAttribute("data-me") : "";
  }

  function articles() {
    var list = document.getElementById("messages");
    return list ? Array.from(list.querySelectorAll("article[data-message-id]")) : [];
  }

  function sentAt(article) {
    var t = article.querySelector("time[datetime]");
    var d = t ? new Date(t.getAttribute("datetime")) : null;
    return d && !isNaN(d) ? d : null;
  }

  function dayKey(d) { return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate(); }

  function dayLabel(d) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(d) === dayKey(today)) return "Today";
    if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
    return (d.getFullYear() === today.getFullYear() ? dayFormat : dayFormatYear).format(d);
  }

  // The server heads each UTC day; the reader's days may fall elsewhere, so the separators are
  // placed again in local time, and grouping never crosses one, nor the "new messages" divider.
  function arrange() {
    var list = document.getElementById("messages");
    if (!list) return;
    list.querySelectorAll(".day-sep").forEach(function (el) { el.remove(); });
    var items = articles();
    var prev = null, prevDay = "";
    items.forEach(function (a) {
      var d = sentAt(a);
      var day = d ? dayKey(d) : prevDay;
      if (d && day !== prevDay) {
        var sep = document.createElement("p");
        sep.className = "day-sep";
        sep.setAttribute("data-day", day);
        var t = document.createElement("time");
        t.setAttribute("datetime", d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"));
        t.textContent = dayLabel(d);
        sep.appendChild(t);
        var before = a.previousElementSibling && a.previousElementSibling.id === "unread-divider" ? a.previousElementSibling : a;
        before.before(sep);
      }
      if (prev) {
        var pd = sentAt(prev);
        var joined = day === prevDay && d && pd && prev.getAttribute("data-sender") === a.getAttribute("data-sender") &&
          d - pd < groupWindow && !(a.previousElementSibling && a.previousElementSibling.id === "unread-divider");
        prev.classList.toggle("grouped", !!joined);
      }
      prev = a;
      prevDay = day;
    });
    if (prev) prev.classList.remove("grouped");
  }

  // The scroller is a column-reverse box: scrollTop is 0 at the latest message and negative above.
  function scroller() { return document.getElementById("scroller"); }
  function fromBottom(s) { return Math.max(0, -s.scrollTop); }

  // The message the reader is looking at, and where it is, so that it can be put back there.
  function anchor() {
    var s = scroller();
    if (!s || fromBottom(s) < nearBottom) return null;
    var box = s.getBoundingClientRect();
    var found = null;
    articles().some(function (a) {
      var r = a.getBoundingClientRect();
      if (r.bottom > box.top && r.top < box.bottom) { found = a; return true; }
      return false;
    });
    return found ? { el: found, top: found.getBoundingClientRect().top } : null;
  }
  function restore(mark) {
    var s = scroller();
    if (!mark || !s || !mark.el.isConnected) return;
    var moved = mark.el.getBoundingClientRect().top - mark.top;
    if (moved !== 0) s.scrollTop += moved;
  }

  var known = {}; // message ids this page has shown
  var unseen = 0; // arrived while the reader was scrolled up

  function jumpButton() {
    var b = document.getElementById("jump-latest");
    var s = scroller();
    if (!b || !s) return;
    var away = fromBottom(s) >= nearBottom;
    if (!away) unseen = 0;
    b.hidden = !away;
    var count = b.querySelector("[data-new-count]");
    count.setAttribute("data-new-count", String(unseen));
    count.textContent = unseen > 99 ? "99+" : String(unseen);
    count.classList.toggle("hidden", unseen === 0);
    b.setAttribute("aria-label", unseen > 0 ? "Jump to the latest message, " + unseen + " new" : "Jump to the latest message");
  }

  // Counts messages from the partner that arrived live since the last look.
  function countArrivals() {
    var s = scroller();
    var away = s && fromBottom(s) >= nearBottom;
    var self = me();
    articles().forEach(function (a) {
      var id = a.getAttribute("data-message-id");
      if (known[id]) return;
      known[id] = true;
      if (away && a.closest("[id^='live-']") && a.getAttribute("data-sender") !== self) unseen++;
    });
  }

  function forgetConversation() {
    known = {};
    unseen = 0;
    articles().forEach(function (a) { known[a.getAttribute("data-message-id")] = true; });
  }

  // On opening a conversation with more unread than fit, start at the divider (unless it was opened
  // at a message, a search result, which is shown instead).
  function showDivider() {
    var d = document.getElementById("unread-divider");
    var s = scroller();
    if (!d || !s || d.getAttribute("data-shown") || document.querySelector("[data-focus]")) return;
    d.setAttribute("data-shown", "true");
    if (d.getBoundingClientRect().top < s.getBoundingClientRect().top) d.scrollIntoView({ block: "start" });
  }

  // Drafts: per reader and conversation, in localStorage; restored on open, cleared on send and at
  // sign-out.
  var draftPrefix = "messenger.draft:";
  function draftKey() {
    var chat = document.getElementById("chat");
    var who = me();
    return chat && who ? draftPrefix + who + ":" + chat.getAttribute("data-conversation") : "";
  }
  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function restoreDraft() {
    var body = document.querySelector("form#composer #body");
    var key = draftKey(), store = storage();
    if (!body || !key || !store || body.getAttribute("data-draft") || body.value !== "") return;
    body.setAttribute("data-draft", "restored");
    var text = store.getItem(key);
    if (text) {
      body.value = text;
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
  document.addEventListener("input", function (e) {
    var t = e.target, key = draftKey(), store = storage();
    if (!t || t.id !== "body" || !t.closest("form#composer") || !key || !store) return;
    if (t.value.trim() === "") store.removeItem(key);
    else store.setItem(key, t.value);
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    var key = draftKey(), store = storage();
    if (elt && elt.id === "composer" && e.detail.xhr.status < 300 && key && store) store.removeItem(key);
  });
  document.addEventListener("submit", function (e) {
    var store = storage();
    if (!store || !e.target.matches || !e.target.matches('form[action="/logout"]')) return;
    Object.keys(store).forEach(function (k) { if (k.indexOf(draftPrefix) === 0) store.removeItem(k); });
  }, true);

  function refresh(opened) {
    if (opened) forgetConversation();
    else countArrivals();
    arrange();
    showDivider();
    jumpButton();
    restoreDraft();
  }

  var liveMark = null, olderMark = null;
  document.addEventListener("DOMContentLoaded", function () { refresh(true); });
  document.addEventListener("htmx:wsBeforeMessage", function () { liveMark = anchor(); });
  document.addEventListener("htmx:wsAfterMessage", function () {
    refresh(false);
    restore(liveMark);
    liveMark = null;
    jumpButton();
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var t = e.detail.target;
    if (t && t.id && t.id.indexOf("older-") === 0) olderMark = anchor();
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var t = e.target;
    refresh(!!(t && t.id === "shell"));
    if (olderMark) {
      restore(olderMark);
      olderMark = null;
      jumpButton();
    }
  });
  document.addEventListener("scroll", function (e) {
    if (e.target && e.target.id === "scroller") jumpButton();
  }, true);
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("#jump-latest");
    var s = scroller();
    if (!b || !s) return;
    s.scrollTop = 0;
    unseen = 0;
    jumpButton();
  });
})();

// Notifications: while the tab is hidden, a browser notification for each new message from someone
// else, once the reader clicked "Enable notifications" (the permission is never asked on load);
// clicking it brings the tab forward on that conversation. A short sound, off until turned on, for a
// message the reader is not looking at. Muted conversations do neither. Both settings live in this
// browser; the mute is the server's (the users list marks it; rows pushed live are marked here).
(function () {
  "use strict";

  var notifyKey = "messenger.notify", soundKey = "messenger.sound";
  var muted = {}; // username -> true: conversations the reader muted
  var alerted = {}; // message ids already announced

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function setting(key) { var s = storage(); return !!s && s.getItem(key) === "on"; }
  function setSetting(key, on) {
    var s = storage();
    if (!s) return;
    if (on) s.setItem(key, "on");
    else s.removeItem(key);
  }
  function bar() { return document.getElementById("comfort"); }
  function openPartner() {
    var f = document.getElementById("mute-form");
    return f ? f.getAttribute("data-partner") : "";
  }

  function showControls() {
    var box = bar();
    if (!box) return;
    box.hidden = false;
    var n = document.getElementById("notify-toggle");
    if (n) {
      var supported = "Notification" in window;
      var denied = supported && window.Notification.permission === "denied";
      var on = supported && setting(notifyKey) && window.Notification.permission === "granted";
      n.hidden = !supported;
      n.disabled = denied;
      n.setAttribute("data-state", on ? "on" : "off");
      n.textContent = denied ? "Notifications blocked" : on ? "Notifications on" : "Enable notifications";
      n.title = denied ? "This browser blocks notifications from Messenger" : on ? "Turn notifications off" : "";
    }
    var s = document.getElementById("sound-toggle");
    if (s) s.setAttribute("aria-pressed", String(setting(soundKey)));
  }

  // The server's page says which conversations are muted; rows pushed live do not know, so they get
  // the mark from what this page knows.
  function readMutes() {
    muted = {};
    document.querySelectorAll("li[data-user]").forEach(function (li) {
      if (li.querySelector(".muted-mark[data-muted='true']")) muted[li.getAttribute("data-user")] = true;
    });
  }
  function applyMutes() {
    var f = document.getElementById("mute-form");
    if (f) muted[f.getAttribute("data-partner")] = f.getAttribute("data-muted") === "true";
    document.querySelectorAll("li[data-user]").forEach(function (li) {
      var mark = li.querySelector(".muted-mark");
      if (!mark) return;
      var on = !!muted[li.getAttribute("data-user")];
      mark.hidden = !on;
      mark.setAttribute("data-muted", String(on));
    });
  }

  function displayName(username) {
    var li = document.querySelector("li[data-user='" + CSS.escape(username) + "'] [data-name]");
    return li ? li.textContent.trim() : username;
  }

  function notify(from, text) {
    if (!setting(notifyKey) || !("Notification" in window) || window.Notification.permission !== "granted") return;
    var n = new window.Notification(displayName(from), { body: text.length > 140 ? text.slice(0, 139) + "…" : text, tag: "messenger-" + from });
    n.onclick = function () {
      window.focus();
      if (n.close) n.close();
      if (openPartner() !== from) location.assign("/chat/" + encodeURIComponent(from));
    };
  }

  function sound() {
    var box = bar();
    if (!setting(soundKey) || !box) return;
    var audio = new Audio(box.getAttribute("data-sound"));
    var played = audio.play();
    if (played && played.catch) played.catch(function () {}); // the browser may refuse without a recent click
  }

  // Looks at a pushed fragment before it is applied: a message from someone else that this page has
  // not shown yet is new.
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var box = bar();
    var raw = e.detail && e.detail.message;
    if (!box || typeof raw !== "string" || raw.indexOf("data-message-id") < 0) return;
    var self = box.getAttribute("data-me");
    var tpl = document.createElement("template");
    tpl.innerHTML = raw;
    tpl.content.querySelectorAll("article[data-message-id]").forEach(function (a) {
      var id = a.getAttribute("data-message-id"), from = a.getAttribute("data-sender");
      if (from === self || alerted[id] || document.getElementById(a.id)) return;
      alerted[id] = true;
      var hidden = document.visibilityState !== "visible";
      if (muted[from] || (!hidden && openPartner() === from)) return;
      var body = a.querySelector(".message-body");
      sound();
      if (hidden) notify(from, body ? body.textContent : "");
    });
  });

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("#notify-toggle, #sound-toggle") : null;
    if (!t) return;
    if (t.id === "sound-toggle") {
      setSetting(soundKey, !setting(soundKey));
      showControls();
      return;
    }
    if (t.getAttribute("data-state") === "on") {
      setSetting(notifyKey, false);
      showControls();
      return;
    }
    window.Notification.requestPermission().then(function (permission) {
      setSetting(notifyKey, permission === "granted");
      showControls();
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    readMutes();
    applyMutes();
    showControls();
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "shell") {
      readMutes();
      showControls();
    }
    applyMutes();
  });
  document.addEventListener("htmx:wsAfterMessage", applyMutes);
})();
