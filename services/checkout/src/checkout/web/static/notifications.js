// The notifications page: web push for this browser. Registers the service worker (/sw.js, scope /),
// subscribes with the VAPID key the page carries, and hands the subscription to checkout
// (same-origin, with the form token), which keeps it at the notifications service.
(() => {
  "use strict";
  const box = document.getElementById("push");
  if (!box) return;
  const on = document.getElementById("push-on");
  const off = document.getElementById("push-off");
  const said = document.getElementById("push-status");
  const key = box.dataset.vapidKey;
  const say = (words) => { said.textContent = words; };
  const show = (subscribed) => { on.hidden = subscribed; off.hidden = !subscribed; };

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot show notifications from web pages.");
    return;
  }
  if (!key) return; // the page already says notifications are unavailable

  const keyBytes = (base64url) => {
    const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - base64url.length % 4) % 4));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  };
  const send = (path, body) => fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf },
    body: JSON.stringify(body),
  });
  const current = async () => {
    const registration = await navigator.serviceWorker.getRegistration("/");
    return registration ? registration.pushManager.getSubscription() : null;
  };
  const busy = async (button, work) => {
    button.disabled = true;
    try { await work(); } catch (error) {
      const name = error && error.name;
      if (name === "NotAllowedError") {
        say("This browser did not allow the subscription. Private windows cannot receive notifications; "
          + "check that notifications are allowed for this site.");
      } else if (name === "AbortError") {
        say("This browser could not subscribe to notifications (" + error.message + "). "
          + "Private windows cannot receive them; otherwise please try again later.");
      } else {
        say("This browser could not change notifications: " + (error && error.message ? error.message : error));
      }
    } finally { button.disabled = false; }
  };

  on.addEventListener("click", () => busy(on, async () => {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say("Notifications are blocked for this site. Allow them in this browser's site settings, then try again.");
      return;
    }
    say("Turning on notifications…");
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(key),
    });
    const answer = await send("/notifications/push", subscription.toJSON());
    if (!answer.ok) await subscription.unsubscribe();
    show(answer.ok);
    say(await answer.text());
  }));

  off.addEventListener("click", () => busy(off, async () => {
    const subscription = await current();
    if (!subscription) { show(false); say("Notifications are off for this browser."); return; }
    const answer = await send("/notifications/push/off", { endpoint: subscription.endpoint });
    if (answer.ok) { await subscription.unsubscribe(); show(false); }
    say(await answer.text());
  }));

  current().then((subscription) => {
    show(Boolean(subscription) && Notification.permission === "granted");
    say(subscription ? "Notifications are on for this browser." : "Notifications are off for this browser.");
  }, () => { show(false); say("Notifications are off for this browser."); });
})();
