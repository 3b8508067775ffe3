// The shop's service worker (served at /sw.js, scope /): shows a notification for each web push
// (the notifications service's small JSON: title, order_id, status, task_id for a worker's task)
// and opens or focuses the order's page when the notification is clicked.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

const target = (data) => {
  if (data.task_id) return "/tasks";
  if (data.order_id) return "/orders/" + encodeURIComponent(data.order_id);
  return "/notifications";
};

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (_) { data = { title: event.data ? event.data.text() : "" }; }
  const title = data.title || (data.order_id ? "Order " + data.order_id + " changed" : "Tuneless Treasures");
  const status = String(data.status || "").replace(/_/g, " ");
  const subject = data.task_id ? "Task " + data.task_id : data.order_id ? "Order " + data.order_id : "";
  const body = subject && status ? subject + " is now " + status + "." : "";
  event.waitUntil(self.registration.showNotification(title, {
    body,
    tag: data.task_id ? "task-" + data.task_id : data.order_id ? "order-" + data.order_id : undefined,
    icon: "/static/favicon.svg",
    data: { url: target(data) },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/notifications", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === url);
    if (open) return open.focus();
    return self.clients.openWindow(url);
  })());
});
