// Tandem's own script: small behaviours htmx does not cover. No inline handlers (CSP).
(function () {
  "use strict";

  // Type-ahead picker: in "pick" mode a chosen option fills the hidden id and the text box;
  // in "go" mode options are plain links to the customer.
  document.addEventListener("click", function (event) {
    var option = event.target.closest("[data-pick-id]");
    if (!option) return;
    var picker = option.closest("[data-picker]");
    if (!picker || picker.dataset.picker !== "pick") return;
    event.preventDefault();
    var value = picker.querySelector("[data-picker-value]");
    var input = picker.querySelector("[data-picker-input]");
    if (value) { value.value = option.dataset.pickId; value.dispatchEvent(new Event("change", { bubbles: true })); }
    if (input) { input.value = option.dataset.pickText; input.focus(); }
    closePicker(picker);
  });

  function closePicker(picker) {
    var list = picker.querySelector(".picker-options");
    if (list) list.innerHTML = "";
  }

  // Keyboard: arrow down from the box into the options, Escape closes them.
  document.addEventListener("keydown", function (event) {
    var picker = event.target.closest && event.target.closest("[data-picker]");
    if (!picker) return;
    var options = Array.prototype.slice.call(picker.querySelectorAll(".picker-options [data-pick-id]"));
    var index = options.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(index + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) picker.querySelector("[data-picker-input]").focus();
      else options[index - 1].focus();
    } else if (event.key === "Escape") {
      closePicker(picker);
      picker.querySelector("[data-picker-input]").focus();
    }
  });

  // Close open pickers and the menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-picker]").forEach(function (picker) {
      if (!picker.contains(event.target)) closePicker(picker);
    });
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
