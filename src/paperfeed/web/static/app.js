// paperfeed's one script (no framework; every page works without it).
//
// In-place forms, the convention card buttons follow (upvote today; save / not interested
// use the same):
//   * A `<form method="post" action="..." data-inplace>` with its hidden `csrf` field (and a
//     `next` field: the page to come back to) and one `<button type="submit">`.
//   * Without JavaScript the form posts as usual and the server answers 303 back to `next`
//     with the card as the fragment (`#paper-ID`).
//   * With JavaScript this script sends the same method, action and body (csrf included) with
//     fetch and the header `Accept: application/json`. The server answers JSON:
//       {"ok": true, "on": <bool>, "count": <int, optional>}   the mark is now on/off
//       401 {"ok": false, "login": "/login?next=..."}        signed out: go log in
//     The script sets `aria-pressed` (and the class `on`) of the form's button from `on`, and
//     the text of any `[data-count]` inside the form from `count`; the page does not reload
//     and keeps its scroll position. Any other answer (an error page, a network failure):
//     the form is submitted the plain way, so the visitor sees what the server says.
//   * A form with `data-card-class="NAME"` also sets class NAME on its card (the closest
//     `[data-card]`) while `on` is true: "Not interested" hides a card that way and shows
//     its Undo (a form to the same action with `undo=1`, answering `on: false`).
//   * A button with `data-shortcut="NAME"` is what keyboard shortcut NAME presses on the
//     current card (`upvote` for u, `save` for s).
//
// Also: the light/dark toggle (remembered in localStorage, applied early by theme.js),
// keyboard shortcuts (j/k next/previous card, u upvote, s save, / search; listed on the about
// page) and the related papers of a paper page, loaded after the page.
(function () {
  "use strict";

  // -- in-place forms --------------------------------------------------------------------
  function sendInPlace(form) {
    if (form.dataset.busy) return;
    form.dataset.busy = "1";
    var button = form.querySelector("button[type=submit], button:not([type])");
    fetch(form.action, {
      method: (form.getAttribute("method") || "post").toUpperCase(),
      body: new URLSearchParams(new FormData(form)),
      headers: {"Accept": "application/json"},
      credentials: "same-origin",
    }).then(function (r) {
      var type = r.headers.get("content-type") || "";
      if (type.indexOf("application/json") !== 0) return Promise.reject(r.status);
      return r.json().then(function (data) { return {status: r.status, data: data}; });
    }).then(function (answer) {
      var data = answer.data || {};
      if (answer.status === 401 && typeof data.login === "string" && data.login.charAt(0) === "/") {
        window.location.assign(data.login);
        return;
      }
      if (!data.ok) return Promise.reject(answer.status);
      if (button && typeof data.on === "boolean") {
        button.setAttribute("aria-pressed", data.on ? "true" : "false");
        button.classList.toggle("on", data.on);
      }
      var cardClass = form.getAttribute("data-card-class");
      var card = form.closest("[data-card]");
      if (cardClass && card && typeof data.on === "boolean") {
        card.classList.toggle(cardClass, data.on);
        if (data.on) {
          var undo = card.querySelector(".undo button");
          if (undo) undo.focus({preventScroll: true});
        }
      }
      if (typeof data.count === "number") {
        form.querySelectorAll("[data-count]").forEach(function (el) { el.textContent = String(data.count); });
      }
      delete form.dataset.busy;
    }).catch(function () {
      delete form.dataset.busy;
      HTMLFormElement.prototype.submit.call(form);  // the plain way: the server explains
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-inplace")) return;
    event.preventDefault();
    sendInPlace(form);
  });

  // -- light / dark ------------------------------------------------------------------------
  var root = document.documentElement;
  var toggle = document.getElementById("theme-toggle");
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function isDark() {
    var chosen = root.getAttribute("data-theme");
    return chosen ? chosen === "dark" : !!(darkQuery && darkQuery.matches);
  }
  function showTheme() {
    if (!toggle) return;
    var dark = isDark();
    toggle.setAttribute("aria-pressed", dark ? "true" : "false");
    toggle.title = dark ? "Switch to light mode" : "Switch to dark mode";
  }
  if (toggle) {
    toggle.hidden = false;
    showTheme();
    toggle.addEventListener("click", function () {
      var next = isDark() ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("pf-theme", next); } catch (e) { /* not remembered */ }
      showTheme();
    });
    if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", showTheme);
  }

  // -- keyboard shortcuts ------------------------------------------------------------------
  function typing(el) {
    if (!el || el === document.body) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  var current = -1;
  function cards() { return Array.prototype.slice.call(document.querySelectorAll("[data-card]")); }
  function select(index) {
    var all = cards();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (c) { c.classList.remove("current"); });
    var card = all[index];
    card.classList.add("current");
    card.setAttribute("tabindex", "-1");
    card.focus({preventScroll: true});
    card.scrollIntoView({block: "nearest"});
    current = index;
  }
  function currentCard() {
    var all = cards();
    if (current >= 0 && current < all.length) return all[current];
    return document.querySelector(".paper.full[data-card]");  // a paper page: its paper
  }
  function press(name) {
    var card = currentCard();
    var button = card && card.querySelector('[data-shortcut="' + name + '"]');
    if (button) button.click();  // no such button (save before it exists): nothing happens
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    if (key === "j") { select(current + 1); }
    else if (key === "k") { select(current < 0 ? 0 : current - 1); }
    else if (key === "u") { press("upvote"); }
    else if (key === "s") { press("save"); }
    else if (key === "/") {
      var search = document.getElementById("site-search");
      if (!search) return;
      search.focus();
      search.select();
    } else { return; }
    event.preventDefault();
  });

  // -- related papers after a paper page -----------------------------------------------------
  document.querySelectorAll("[data-related-src]").forEach(function (box) {
    fetch(box.getAttribute("data-related-src"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () { /* keep the plain link */ });
  });
})();
