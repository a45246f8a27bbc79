// The deal board: drag a card to another column (Sortable.js) and save the move with htmx;
// a move to Lost first asks for the reason in a <dialog>. At phone width there is no drag:
// each card's "Move to…" form posts (htmx swaps the board; without JS it is a plain form).
(function () {
  "use strict";

  // Loaded again when a boosted navigation swaps the board page in: just set it up.
  if (window.tandemBoardInit) { window.tandemBoardInit(); return; }

  var desk = window.matchMedia("(min-width: 760px)");
  var pendingRestore = null;

  function board() { return document.getElementById("board"); }

  function urlFor(template, dealId) {
    return template.replace("/deals/0/", "/deals/" + encodeURIComponent(dealId) + "/");
  }

  // --- Saving a move ----------------------------------------------------------------------

  function saveMove(dealId, version, stageId) {
    var form = document.getElementById("drag-move");
    if (!form) return;
    htmx.ajax("POST", urlFor(form.dataset.action, dealId), {
      source: form, target: "#board", swap: "outerHTML",
      values: { version: version, stage_id: stageId }
    });
  }

  // --- The lost-reason dialog -------------------------------------------------------------

  function openLostDialog(dealId, version, title, restore) {
    var dialog = document.getElementById("lost-dialog");
    if (!dialog) return;
    var form = dialog.querySelector("form");
    var url = urlFor(form.dataset.action, dealId);
    form.setAttribute("action", url);
    form.setAttribute("hx-post", url);
    form.querySelector("[name=version]").value = version;
    form.querySelector("[name=lost_reason]").value = "";
    dialog.querySelector("[data-lost-title]").textContent = title;
    var error = dialog.querySelector("[data-lost-error]");
    if (error) error.remove();
    var field = form.querySelector(".field.invalid");
    if (field) field.classList.remove("invalid");
    var reason = form.querySelector("[name=lost_reason]");
    reason.removeAttribute("aria-invalid");
    reason.removeAttribute("aria-describedby");
    pendingRestore = restore || null;
    if (dialog.open) dialog.close();
    dialog.showModal();
    reason.focus();
  }

  // A dialog the server sent back open (an empty reason was refused): show it as a modal.
  function reopenLostDialog(root) {
    var dialog = root.querySelector("#lost-dialog[data-reopen]");
    if (!dialog) return;
    dialog.removeAttribute("data-reopen");
    if (dialog.open) dialog.close();
    dialog.showModal();
    var reason = dialog.querySelector("[name=lost_reason]");
    if (reason) reason.focus();
  }

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-lost-cancel]");
    if (!cancel) return;
    event.preventDefault();
    cancel.closest("dialog").close();
  });

  // Closed without saving (Cancel, Escape): put a dragged card back where it was.
  document.addEventListener("close", function (event) {
    if (event.target.id !== "lost-dialog") return;
    var restore = pendingRestore;
    pendingRestore = null;
    if (restore) restore();
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.closest && form.closest("#lost-dialog")) {
      pendingRestore = null;  // the board is re-rendered by the answer
      return;
    }
    // "Move to… Lost" asks for the reason first, in the dialog.
    if (!form.matches || !form.matches("form[data-move-form]")) return;
    var root = board();
    var select = form.querySelector("select[name=stage_id]");
    if (!root || !select || !root.dataset.lostStage || select.value !== root.dataset.lostStage) return;
    if (!document.getElementById("lost-dialog")) return;
    event.preventDefault();
    event.stopPropagation();
    var card = form.closest(".card");
    openLostDialog(card.dataset.dealId, form.querySelector("[name=version]").value,
                   card.dataset.title, null);
  }, true);

  // --- Drag and drop (desk width) ---------------------------------------------------------

  // Sortable leaves (empty) style attributes on cards; htmx copies old attributes onto
  // their replacements during a swap, which the CSP (rightly) refuses. Drop them first.
  function dropStyles() {
    var root = board();
    if (root) root.querySelectorAll("[style]").forEach(function (el) { el.removeAttribute("style"); });
  }

  function onEnd(event) {
    document.body.classList.remove("is-dragging");
    dropStyles();
    // Pressing on a card focused <main> (tabindex -1); htmx would give it focus back after
    // the swap and so scroll the page by the header's height. Nothing needs focus here.
    var focused = document.activeElement;
    if (focused && focused.id === "main") focused.blur();
    if (event.to === event.from) return;
    var item = event.item;
    var from = event.from;
    var next = from.children[event.oldIndex] || null;
    var restore = function () { from.insertBefore(item, next); };
    if (event.to.dataset.outcome === "lost") {
      openLostDialog(item.dataset.dealId, item.dataset.version, item.dataset.title, restore);
      return;
    }
    saveMove(item.dataset.dealId, item.dataset.version, event.to.dataset.stageId);
  }

  function initDrag(root, tries) {
    if (root.dataset.canMove !== "true" || !desk.matches || root.dataset.dragReady) return;
    if (typeof window.Sortable === "undefined") {
      // Sortable.min.js may still be loading (scripts of a swapped-in page load async).
      if ((tries || 0) < 100) setTimeout(function () { initDrag(root, (tries || 0) + 1); }, 50);
      return;
    }
    if (!root.isConnected) return;
    root.dataset.dragReady = "true";
    root.querySelectorAll("[data-drop-list]").forEach(function (list) {
      window.Sortable.create(list, {
        group: { name: "deals", pull: list.dataset.outcome === "open", put: true },
        sort: false,
        draggable: ".card[data-movable]",
        filter: "a, select, option, button, input, textarea, label",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 3,
        animation: 0,
        onStart: function () { document.body.classList.add("is-dragging"); },
        onEnd: onEnd
      });
    });
  }

  function init() {
    var root = board();
    if (!root) return;
    reopenLostDialog(root);
    initDrag(root, 0);
  }

  window.tandemBoardInit = init;
  document.addEventListener("htmx:before:swap", dropStyles);
  document.addEventListener("htmx:after:swap", init);
  document.addEventListener("htmx:after:process", init);
  desk.addEventListener("change", init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
