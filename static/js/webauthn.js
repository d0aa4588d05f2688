/* WebAuthn in the browser: fetch options, call navigator.credentials, post the result back.
 *
 * Markup: <form data-webauthn="register|authenticate" data-options-url="…" data-verify-url="…"
 *               data-msg-*="…">, with an optional <input name="nickname"> and <input name="next">,
 * an element [data-webauthn-error] (hidden until an error) holding [data-webauthn-message], and an
 * element [data-webauthn-status]. Messages come from data-msg-* in the user's language. No inline
 * script (CSP); every POST carries the CSRF token from <meta name="csrf-token">.
 */
(function () {
  "use strict";

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var text = window.atob(base64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) {
      bytes[i] = text.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = { type: item.type, id: fromBase64url(item.id) };
      if (item.transports) {
        copy.transports = item.transports;
      }
      return copy;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return json;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
    });
  }

  function setup(form) {
    var mode = form.getAttribute("data-webauthn");
    var errorBox = form.querySelector("[data-webauthn-error]");
    var errorText = form.querySelector("[data-webauthn-message]");
    var status = form.querySelector("[data-webauthn-status]");
    var button = form.querySelector('button[type="submit"]');

    function msg(name) {
      return form.getAttribute("data-msg-" + name) || form.getAttribute("data-msg-failed") || "";
    }

    function showError(text) {
      if (status) {
        status.textContent = "";
      }
      if (errorBox && errorText) {
        errorText.textContent = text;
        errorBox.hidden = false;
        errorBox.focus();
      }
    }

    function field(name) {
      var input = form.querySelector('[name="' + name + '"]');
      return input ? input.value : undefined;
    }

    function failed(result) {
      if (result.status === 401 && result.data.step_up) {
        window.location.assign(result.data.step_up);
        return;
      }
      if (result.status === 429) {
        showError(msg("rate"));
        return;
      }
      showError(result.data.error || msg("failed"));
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        showError(msg("unsupported"));
        return;
      }
      if (errorBox) {
        errorBox.hidden = true;
      }
      if (button) {
        button.disabled = true;
      }
      if (status) {
        status.textContent = msg("busy");
      }
      var done = function () {
        if (button) {
          button.disabled = false;
        }
      };
      post(form.getAttribute("data-options-url"), {})
        .then(function (result) {
          if (!result.ok) {
            failed(result);
            return null;
          }
          var ceremony =
            mode === "register"
              ? navigator.credentials.create({ publicKey: creationOptions(result.data) })
              : navigator.credentials.get({ publicKey: requestOptions(result.data) });
          return ceremony.then(
            function (credential) {
              return post(form.getAttribute("data-verify-url"), {
                credential: credentialJSON(credential),
                nickname: field("nickname"),
                next: field("next")
              });
            },
            function (error) {
              showError(error && error.name === "InvalidStateError" ? msg("duplicate") : msg("cancelled"));
              return null;
            }
          );
        })
        .then(function (result) {
          if (!result) {
            return;
          }
          if (result.ok && result.data.redirect) {
            if (status) {
              status.textContent = msg("success");
            }
            window.location.assign(result.data.redirect);
            return;
          }
          failed(result);
        })
        .catch(function () {
          showError(msg("network"));
        })
        .then(done, done);
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) {
      setup(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
