/* The shell's JavaScript: htmx settings, the CSRF header and toasts. No inline script anywhere (CSP). */
(function () {
  "use strict";

  if (window.htmx) {
    var config = window.htmx.config;
    // 422 is an invalid form: swap it (the fragment shows the errors). Other 4xx/5xx: no swap, a toast.
    config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      // 409: someone saved first; the fragment shows both versions.
      { code: "409", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false }
    ];
    // CSP: no eval, no inserted <style> for indicators (app.css has them), no scripts from responses.
    config.allowEval = false;
    config.includeIndicatorStyles = false;
    config.allowScriptTags = false;
    // Settling copies these attributes onto swapped elements; "style" would be an inline style (CSP).
    config.attributesToSettle = ["class", "width", "height"];
    // Pages hold personal data: never keep copies in browser storage; reload from the server instead.
    config.historyCacheSize = 0;
    config.refreshOnHistoryMiss = true;
    // A history reload gets the whole page, not a fragment.
    config.historyRestoreAsHxRequest = false;
    config.selfRequestsOnly = true;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var verb = (event.detail.verb || "get").toUpperCase();
    if (verb !== "GET" && verb !== "HEAD") {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  function region() {
    return document.getElementById("toast-region");
  }

  function dismiss(toast) {
    if (toast && toast.parentNode) {
      toast.parentNode.removeChild(toast);
    }
  }

  // level: success, info, warning or error. Text only (textContent): the message is never parsed as HTML.
  function showToast(message, level) {
    var container = region();
    if (!container || !message) {
      return;
    }
    level = ["success", "info", "warning", "error"].indexOf(level) >= 0 ? level : "success";
    var toast = document.createElement("div");
    toast.className = "toast toast--" + level;
    if (level === "error") {
      toast.setAttribute("role", "alert");
    }
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = (container.getAttribute("data-label-" + level) || "") + ": ";
    var text = document.createElement("p");
    text.className = "toast__message";
    text.appendChild(label);
    text.appendChild(document.createTextNode(message));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("aria-label", container.getAttribute("data-close-label") || "×");
    close.textContent = "×";
    close.addEventListener("click", function () {
      dismiss(toast);
    });
    toast.appendChild(text);
    toast.appendChild(close);
    container.appendChild(toast);
    // Confirmations fade on their own; errors stay until closed.
    if (level === "success" || level === "info") {
      window.setTimeout(function () {
        dismiss(toast);
      }, 8000);
    }
  }

  // Server: HX-Trigger: {"toast": "保存しました"} or {"toast": {"message": "…", "level": "warning"}}
  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    if (typeof detail.value === "string") {
      showToast(detail.value, "success");
    } else {
      showToast(detail.message, detail.level);
    }
  });

  // The messages are rendered into the region's data-msg-* attributes in the user's language.
  function message(name) {
    var container = region();
    return container ? container.getAttribute("data-msg-" + name) : "";
  }

  function statusMessage(status) {
    return message(String(status)) || (status >= 500 ? message("500") : "") || message("default");
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    showToast(statusMessage(xhr ? xhr.status : 0), "error");
  });

  // A 409 is swapped (the fragment shows both versions); the toast says why the save did not happen.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 409) {
      showToast(statusMessage(409), "error");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showToast(message("network"), "error");
  });

  // A suggestion button (e.g. the address of a postal code) copies its value into a field and keeps
  // what follows (番地) for the person to type.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-fill-target]") : null;
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-fill-target"));
    if (field) {
      field.value = button.getAttribute("data-fill-value") || "";
      field.focus();
    }
  });

  window.housingApp = { showToast: showToast };
})();
