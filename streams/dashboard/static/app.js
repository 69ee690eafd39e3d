// The live page: reads /api/state once, then follows /api/stream (server-sent events).
// No framework: a few render functions over the snapshot. Charts are uPlot (vendored, MIT).
"use strict";

const OUTCOMES = ["action", "suppressed", "no_candidate", "no_mot"];
const COLORS = {action: "#2f9e44", suppressed: "#e8590c", no_candidate: "#868e96", no_mot: "#4c6ef5"};
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en");
const money = new Intl.NumberFormat("en", {maximumFractionDigits: 0});
let last = null;
const charts = {};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function timeText(epochS) {
  return epochS ? new Date(epochS * 1000).toLocaleTimeString() : "-";
}

function chart(id, series, data) {
  const target = $(id);
  const width = Math.max(300, target.clientWidth || 380);
  if (!charts[id]) {
    charts[id] = new uPlot({
      width, height: 170, series: [{}, ...series],
      axes: [{}, {size: 50}], legend: {live: false},
      scales: {x: {time: true}},
    }, data, target);
  } else {
    if (charts[id].width !== width) charts[id].setSize({width, height: 170});
    charts[id].setData(data);
  }
}

function renderCharts(s) {
  const t = s.series.t;
  chart("chart-events", [{label: "events/s", stroke: "#1d2330", width: 2}], [t, s.series.events_per_s]);
  chart("chart-outcomes", OUTCOMES.map((o) => ({label: o, stroke: COLORS[o], width: 2})),
        [t, ...OUTCOMES.map((o) => s.series.outcomes_per_s[o])]);
  chart("chart-latency", [{label: "p50", stroke: "#4c6ef5", width: 2}, {label: "p99", stroke: "#e03131", width: 2}],
        [t, s.series.p50, s.series.p99]);
}

function renderCounters(s) {
  $("total-events").textContent = fmt.format(s.totals.events);
  $("total-deadletter").textContent = fmt.format(s.totals.deadletter);
  $("total-duplicates").textContent = fmt.format(s.totals.duplicates);
  for (const o of OUTCOMES) $("outcome-" + o).textContent = fmt.format(s.decisions[o] || 0);
  const health = $("health");
  health.textContent = s.healthy ? "live" : (s.totals.metrics_records ? "no recent metrics" : "waiting for metrics");
  health.className = "badge " + (s.healthy ? "ok" : "bad");
  $("workers-reporting").textContent = s.workers.reporting;
  $("silent").textContent = s.workers.silent.length ? "silent: " + s.workers.silent.join(", ") : "";
  $("updated").textContent = timeText(s.now);
}

function bar(cls, v, max) {
  const w = max > 0 ? Math.max(1, Math.round(120 * v / max)) : 0;
  return el("div", {class: "bar " + cls}, el("i", {style: `width:${w}px`}), money.format(v));
}

function renderMots(s) {
  const by = $("mot-by").value, line = $("mot-line").value, top = Number($("mot-rows").value);
  const ranked = s.mots.filter((m) => !line || m.product_line === line)
    .sort((a, b) => (b[by] - a[by]) || a.mot.localeCompare(b.mot));
  const rows = top ? ranked.slice(0, top) : ranked;
  $("mot-shown").textContent = `${rows.length} of ${ranked.length}`;
  const maxV = Math.max(0, ...rows.map((m) => m.value)), maxR = Math.max(0, ...rows.map((m) => m.risk));
  const body = document.querySelector("#mot-table tbody");
  body.replaceChildren(...rows.map((m, i) => el("tr", {},
    el("td", {class: "n"}, i + 1), el("td", {}, m.mot), el("td", {}, m.product_line),
    ...["5m", "1h", "24h", "30d"].map((w) => el("td", {class: "n"}, fmt.format((m.counts || {})[w] || 0))),
    el("td", {}, bar("value", m.value, maxV)), el("td", {}, bar("risk", m.risk, maxR)))));
  if (!rows.length) body.replaceChildren(el("tr", {}, el("td", {colspan: 9, class: "muted"}, "no MoT seen yet")));
}

function renderBars(id, counts) {
  const entries = Object.entries(counts);
  const max = Math.max(0, ...entries.map(([, v]) => v));
  $(id).replaceChildren(...entries.map(([k, v]) => el("div", {class: "row"},
    el("span", {}, k), el("i", {style: `width:${max ? Math.max(1, 100 * v / max) : 0}%`}), el("b", {}, fmt.format(v)))));
  if (!entries.length) $(id).replaceChildren(el("span", {class: "muted"}, "no action yet"));
}

function renderWorkers(s) {
  const body = document.querySelector("#workers-table tbody");
  body.replaceChildren(...Object.entries(s.workers.all).map(([w, v]) => el("tr", {class: v.silent ? "silent" : ""},
    el("td", {}, w + (v.silent ? " (silent)" : "")), el("td", {class: "n"}, fmt.format(v.per_s)),
    el("td", {class: "n"}, v.latency_ms.p50), el("td", {class: "n"}, v.latency_ms.p99), el("td", {}, timeText(v.last_ts)))));
}

function renderDeadletters(s) {
  $("deadletters-read").textContent = s.deadletters_read ? `(${s.deadletters.length} shown)` : "";
  const body = document.querySelector("#deadletters tbody");
  body.replaceChildren(...s.deadletters.map((d) => el("tr", {},
    el("td", {}, d.ts || "-"), el("td", {}, `${d.topic || "?"}/${d.partition ?? "?"}@${d.offset ?? "?"}`),
    el("td", {class: "err"}, d.error || "?"), el("td", {class: "raw", title: d.raw || ""}, (d.raw || "").slice(0, 80)))));
  if (!s.deadletters.length) body.replaceChildren(el("tr", {}, el("td", {colspan: 4, class: "muted"}, "none")));
}

function render(s) {
  last = s;
  renderCounters(s);
  renderMots(s);
  renderBars("programs", s.programs);
  renderBars("channels", s.channels);
  const arms = {};
  for (const [arm, f] of Object.entries(s.arms || {})) {
    arms[`${arm} (${f.actions} actions)`] = f.decisions;
  }
  renderBars("arms", arms);
  renderWorkers(s);
  renderDeadletters(s);
  renderCharts(s);
}

function decisionBlock(d) {
  const a = d.action;
  const facts = [["event", `${d.event_id} (${d.event_type}, ${d.product_line})`], ["customer", d.customer_id],
    ["event time", d.event_ts], ["decided", d.decided_ts], ["MoTs", (d.mots || []).join(", ") || "(none)"],
    ["outcome", d.outcome], ["action", a ? `${a.id} (${a.program} via ${a.channel})` : "-"],
    ["rules", `${d.rules_version} (${d.arm || "champion"})`]];
  const dl = el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const cands = d.candidates || [];
  const table = el("table", {class: "candidates"},
    el("thead", {}, el("tr", {}, ...["program", "action", "priority", "score", "status", "reason"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...cands.map((c) => el("tr", {},
      el("td", {}, c.program), el("td", {}, c.action), el("td", {class: "n"}, c.priority),
      el("td", {class: "n"}, Number(c.score).toFixed(2)), el("td", {class: "status-" + c.status}, c.status),
      el("td", {class: "reason"}, c.reason)))));
  return el("div", {class: "decision"}, dl, cands.length ? table : el("p", {class: "muted"}, "no candidate"));
}

async function search(q) {
  const out = $("search-result");
  out.replaceChildren(el("p", {class: "muted"}, "searching…"));
  const r = await fetch("/api/search?q=" + encodeURIComponent(q));
  const body = await r.json();
  if (!r.ok) { out.replaceChildren(el("p", {class: "err"}, body.error)); return; }
  if (!body.decisions.length) { out.replaceChildren(el("p", {class: "muted", id: "search-none"}, `no decision found for ${q}`)); return; }
  out.replaceChildren(el("p", {class: "muted"}, `${body.decisions.length} decision(s) by ${body.kind}, from ${body.source}`),
    ...body.decisions.map(decisionBlock));
}

$("search-form").addEventListener("submit", (e) => { e.preventDefault(); const q = $("search").value.trim(); if (q) search(q); });
$("mot-by").addEventListener("change", () => last && renderMots(last));
$("mot-line").addEventListener("change", () => last && renderMots(last));
$("mot-rows").addEventListener("change", () => last && renderMots(last));
window.addEventListener("resize", () => last && renderCharts(last));

fetch("/api/state").then((r) => r.json()).then(render).catch(() => {});
const source = new EventSource("/api/stream");
source.onmessage = (e) => render(JSON.parse(e.data));
