// The hookline console's script: times in the viewer's time zone, and lists that update
// themselves by polling the console's JSON API. No build step, no dependencies.
"use strict";

const EVERY = 5000; // milliseconds between updates of a live list

function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(el.dateTime);
    if (!isNaN(moment)) {
      el.textContent = moment.toLocaleString();
      el.title = el.dateTime.replace("T", " ").replace("Z", " UTC");
    }
  }
}

function derived(item) {
  const more = {};
  if (typeof item.id === "string") more.short_id = item.id.slice(0, 12);
  if (typeof item.status === "string") more.status_label = item.status.replace(/_/g, " ");
  if ("paused" in item) {
    more.toggle = item.paused ? "resume" : "pause";
    more.toggle_label = item.paused ? "Resume" : "Pause";
    more.manual = item.kind === "manual";
  }
  if ("connector" in item) {
    const test = item.last_test;
    more.where = `(${item.connector}, ${item.base_url})`;
    more.budget_in_use = item.budget ? `${item.budget.used} of ${item.budget.limit}` : "no limit";
    more.session_state = item.session.state;
    more.session_expires = item.session.expires_at;
    more.test_flag = test && (test.ok ? "succeeded" : "failed");
    more.test_label = test && (test.ok ? "passed" : "failed");
    more.test_message = test && test.message;
    more.spoken_name = " " + item.name;
  }
  return Object.assign({}, item, more);
}

function shown(value) {
  return value === null || value === undefined ? "" : String(value);
}

function fill(row, item) {
  for (const el of row.querySelectorAll("[data-href]")) {
    const url = el.dataset.href.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(shown(item[key])));
    el.setAttribute(el.tagName === "FORM" ? "action" : "href", url);
  }
  for (const el of row.querySelectorAll("[data-field]")) el.textContent = shown(item[el.dataset.field]);
  for (const el of row.querySelectorAll("[data-json]")) {
    const value = item[el.dataset.json];
    el.textContent = value === null || value === undefined ? "" : JSON.stringify(value, null, 2);
  }
  for (const el of row.querySelectorAll("[data-flag]")) {
    el.classList.add("flag-" + shown(item[el.dataset.flag]).replace(/ /g, "-"));
  }
  for (const el of row.querySelectorAll("[data-time]")) {
    const value = item[el.dataset.time];
    if (value) el.dateTime = value;
  }
  for (const el of row.querySelectorAll("[data-unless]")) {
    if (item[el.dataset.unless]) el.remove();
  }
  for (const el of row.querySelectorAll("[data-if]")) {
    if (!item[el.dataset.if]) el.remove();
  }
}

async function refresh(body) {
  const answer = await fetch(body.dataset.live, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!answer.ok) return;
  const data = await answer.json();
  const template = body.parentElement.querySelector("template");
  const rows = (data[body.dataset.key] || []).map((item) => {
    const row = template.content.firstElementChild.cloneNode(true);
    fill(row, derived(item));
    return row;
  });
  if (rows.length) {
    body.replaceChildren(...rows);
    localTimes(body);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  for (const body of document.querySelectorAll("tbody[data-live]")) {
    setInterval(() => refresh(body).catch(() => {}), EVERY);
  }
});
