// authward's one script: passkeys through navigator.credentials, nothing else.
//
// Every passkey form is an ordinary form (its CSRF token included) with an empty hidden
// "credential" field. This script asks the server for options, lets the browser make or
// use the passkey, puts the answer (PublicKeyCredential JSON) in that field and submits
// the form: the server checks the form as it checks every other. Without this script,
// or without WebAuthn in the browser, the passkey forms stay hidden. It writes text
// only (textContent, value), so the pages keep a strict CSP with Trusted Types on.
"use strict";

(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const bytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const text = (buffer) => {
    let binary = "";
    for (const b of new Uint8Array(buffer)) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: bytes(d.id) }));

  // The Level 3 parsers where the browser has them; the same by hand where it does not.
  const creationOptions = (json) =>
    PublicKeyCredential.parseCreationOptionsFromJSON
      ? PublicKeyCredential.parseCreationOptionsFromJSON(json)
      : {
          ...json,
          challenge: bytes(json.challenge),
          user: { ...json.user, id: bytes(json.user.id) },
          excludeCredentials: descriptors(json.excludeCredentials),
        };
  const requestOptions = (json) =>
    PublicKeyCredential.parseRequestOptionsFromJSON
      ? PublicKeyCredential.parseRequestOptionsFromJSON(json)
      : { ...json, challenge: bytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };

  const asJson = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      if (r.userHandle) response.userHandle = text(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  };

  // The server said no before any passkey was asked for: say why, not "no passkey used".
  class Refused extends Error {
    constructor(status, retryAfter) {
      super("options " + status);
      this.status = status;
      this.retryAfter = Number.parseInt(retryAfter || "", 10);
    }
  }
  const refusal = (error) => {
    if (!(error instanceof Refused)) return null;
    if (error.status === 429) {
      const wait = error.retryAfter > 0 ? Math.ceil(error.retryAfter / 60) : 0;
      return wait > 1
        ? `Too many attempts from here. Try again in ${wait} minutes.`
        : "Too many attempts from here. Try again in a minute.";
    }
    if (error.status === 409) return "This account holds as many passkeys as it may. Remove one first.";
    if (error.status >= 500) return "The service is unavailable just now. Try again shortly.";
    return null;
  };

  const fetchOptions = async (url, csrfToken, body = {}) => {
    const headers = { "Content-Type": "application/json" };
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    const answer = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
    const challenge = answer.headers.get("WWW-Authenticate") || "";
    if (answer.status === 401 && challenge.includes("insufficient_user_authentication")) {
      // The login grew old while the page stood open: step up, then come back here.
      window.location.assign("/reauth?next=" + encodeURI(window.location.pathname));
    }
    if (!answer.ok) throw new Refused(answer.status, answer.headers.get("Retry-After"));
    return answer.json();
  };

  const send = (form, credential) => {
    form.elements.credential.value = JSON.stringify(asJson(credential));
    form.submit(); // not a submit event: this handler does not run again
  };

  const say = (form, message) => {
    const status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = message;
      status.hidden = false;
    }
  };

  let waiting = null; // the autofill request, aborted when a button asks instead

  const signIn = async (form) => {
    if (waiting) waiting.abort();
    try {
      // A step-up knows whose passkey it wants: its options list only theirs.
      const options = form.dataset.passkey === "reauth"
        ? await fetchOptions("/auth/reauth/options", form.elements.csrf_token.value)
        : await fetchOptions("/auth/passkey/options");
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      if (credential) send(form, credential);
    } catch (error) {
      say(form, refusal(error) || "No passkey was used. Try again, or use your password.");
    }
  };

  const register = async (form) => {
    if (!form.reportValidity()) return;
    try {
      // A new passkey's options are a step-up: a recent login (the security page sends
      // an old one through /reauth first), or a current password field where a form has one.
      const password = form.elements.current_password;
      const stepUp = password ? { current_password: password.value } : {};
      const options = await fetchOptions("/auth/factors/passkeys/options", form.elements.csrf_token.value, stepUp);
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      if (credential) send(form, credential);
    } catch (error) {
      say(
        form,
        refusal(error) || "No passkey was made. If this device already holds one for this account, use it instead.",
      );
    }
  };

  const autofill = async (form) => {
    if (!PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    waiting = new AbortController();
    try {
      const options = await fetchOptions("/auth/passkey/options");
      const credential = await navigator.credentials.get({
        publicKey: requestOptions(options),
        mediation: "conditional",
        signal: waiting.signal,
      });
      if (credential) send(form, credential);
    } catch (error) {
      // Aborted for the button, or dismissed: the forms are still there.
    }
  };

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const kind = form.dataset.passkey;
    const hidden = form.closest("[data-passkey-only]");
    if (hidden) hidden.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (kind === "register") register(form);
      else signIn(form);
    });
    if (kind === "login") autofill(form);
  }
})();
