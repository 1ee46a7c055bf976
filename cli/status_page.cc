#include "cli/status_page.h"

namespace syncline::cli {
namespace {

// Self-contained on purpose: an operator opens it on a host with no internet access.
constexpr std::string_view page = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>syncline pipeline</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d232a; background: #f6f7f9; }
  h1 { font-size: 1.3em; margin: 0 0 .8em; }
  h1 .state { font-size: .8em; padding: .15em .6em; border-radius: 1em; margin-left: .5em; color: #fff; background: #6b7280; }
  .state.caught_up { background: #15803d; } .state.catching_up { background: #2563eb; }
  .state.stalled { background: #b91c1c; } .state.unknown { background: #6b7280; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(10em, 1fr)); gap: .8em; margin-bottom: 1em; }
  .card { background: #fff; border: 1px solid #dde1e6; border-radius: .5em; padding: .6em .8em; }
  .card .label { color: #5b6470; font-size: .85em; }
  .card .value { font-size: 1.5em; font-variant-numeric: tabular-nums; }
  .card.bad .value { color: #b91c1c; }
  table { border-collapse: collapse; background: #fff; border: 1px solid #dde1e6; margin: .5em 0 1em; }
  th, td { padding: .3em .9em; border-bottom: 1px solid #eef0f3; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  .down { color: #b91c1c; font-weight: bold; }
  #verdict { margin: 0 0 1em; }
  #chart { background: #fff; border: 1px solid #dde1e6; border-radius: .5em; width: 100%; max-width: 760px; height: 180px; }
  .legend span { margin-right: 1.2em; } .lag { color: #d97706; } .rate { color: #2563eb; }
  #error { color: #b91c1c; }
</style>
</head>
<body>
<h1>syncline pipeline <span id="pipeline">…</span><span id="state" class="state unknown">unknown</span></h1>
<p id="verdict"></p>
<div class="cards">
  <div class="card"><div class="label">committed offset</div><div class="value" id="committed">-</div></div>
  <div class="card"><div class="label">log last offset</div><div class="value" id="log-last">-</div></div>
  <div class="card"><div class="label">lag (records)</div><div class="value" id="lag-records">-</div></div>
  <div class="card"><div class="label">lag (seconds)</div><div class="value" id="lag-seconds">-</div></div>
  <div class="card"><div class="label">commit rate (records/s)</div><div class="value" id="rate">-</div></div>
  <div class="card"><div class="label">in-flight batches</div><div class="value" id="in-flight">-</div></div>
  <div class="card" id="dead-letters-card"><div class="label">dead letters</div><div class="value" id="dead-letters">-</div></div>
  <div class="card"><div class="label">restarts</div><div class="value" id="restarts">-</div></div>
</div>
<div class="legend"><span class="lag">&#9632; lag (records)</span><span class="rate">&#9632; commit rate (records/s)</span></div>
<canvas id="chart" width="760" height="180"></canvas>
<h2>Processes</h2>
<table id="processes">
  <thead><tr><th>process</th><th>up</th><th>restarts</th><th>in-flight batches</th><th>records delivered</th></tr></thead>
  <tbody></tbody>
</table>
<p id="error"></p>
<p><small>Refreshed every 2 s from <a href="metrics">/metrics</a> (every process of the pipeline, merged).
Stalled: work in flight and no commit for 30 s, as <code>syncline status</code> judges it.</small></p>
<script>
"use strict";
const STALL_AFTER = 30, KEEP = 150, history = [];
let previous = null;

function parse(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    out.push({name: m[1], labels, value: Number(m[3])});
  }
  return out;
}
function find(samples, name, match) {
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match || {}).every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return null;
}
function all(samples, name) { return samples.filter(s => s.name === name); }
function num(v) { return v === null || Number.isNaN(v) ? "-" : Math.round(v).toLocaleString("en-US"); }
function set(id, text) { document.getElementById(id).textContent = text; }
function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
}

function draw() {
  const c = document.getElementById("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (history.length < 2) return;
  const series = [["lag", "#d97706"], ["rate", "#2563eb"]];
  for (const [key, color] of series) {
    const max = Math.max(1, ...history.map(h => h[key] || 0));
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    history.forEach((h, i) => {
      const x = 40 + i * (c.width - 50) / (KEEP - 1), y = c.height - 20 - (h[key] || 0) / max * (c.height - 40);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
    g.fillStyle = color; g.font = "11px sans-serif";
    g.fillText(num(max), key === "lag" ? 4 : c.width - 60, 12);
  }
}

function render(samples, now) {
  const vent = {process: "ventilator"};
  const pipeline = samples.length ? samples[0].labels.pipeline : "…";
  const committed = find(samples, "syncline_sink_committed_offset", {process: "sink"});
  const last = find(samples, "syncline_ventilator_log_last_offset", vent);
  const lag = find(samples, "syncline_ventilator_lag_records", vent);
  const lagSeconds = find(samples, "syncline_ventilator_lag_seconds", vent);
  const inFlight = find(samples, "syncline_ventilator_in_flight_batches", vent);
  const stalled = find(samples, "syncline_ventilator_stalled_seconds", vent);
  const dead = find(samples, "syncline_sink_dead_letters", {process: "sink"});
  let restarts = 0;
  for (const s of all(samples, "syncline_run_restarts_total")) restarts += s.value;
  let rate = null;
  if (previous && committed !== null && previous.committed !== null && now > previous.at)
    rate = Math.max(0, (committed - previous.committed) / ((now - previous.at) / 1000));
  previous = {committed, at: now};

  let state = "unknown", verdict = "the ventilator's metrics do not answer";
  if (lag !== null) {
    if (stalled !== null && stalled >= STALL_AFTER) {
      state = "stalled";
      verdict = "in flight, no progress for " + duration(stalled) + ": oldest unacknowledged offset " +
                num(find(samples, "syncline_ventilator_oldest_unacked_offset", vent)) + " (syncline status names its holder)";
    } else if (lag === 0 && inFlight === 0) { state = "caught_up"; verdict = "caught up"; }
    else { state = "catching_up"; verdict = "catching up"; }
  }
  document.title = "syncline " + pipeline + ": " + state.replace("_", " ");
  set("pipeline", pipeline);
  const badge = document.getElementById("state");
  badge.textContent = state.replace("_", " "); badge.className = "state " + state;
  set("verdict", verdict);
  set("committed", num(committed)); set("log-last", num(last)); set("lag-records", num(lag));
  set("lag-seconds", lagSeconds === null ? "-" : lagSeconds.toFixed(1));
  set("rate", num(rate)); set("in-flight", num(inFlight)); set("dead-letters", num(dead)); set("restarts", num(restarts));
  document.getElementById("dead-letters-card").className = "card" + (dead > 0 ? " bad" : "");

  const rows = [];
  for (const up of all(samples, "syncline_run_child_up")) {
    const child = up.labels.child, worker = child.startsWith("worker-");
    const inflight = worker ? find(samples, "syncline_worker_in_flight_batches", {process: child}) : null;
    const delivered = worker ? find(samples, "syncline_worker_records_delivered_total", {process: child}) : null;
    rows.push("<tr data-process=\"" + child + "\"><td>" + child + "</td><td class=\"" + (up.value ? "" : "down") + "\">" +
              (up.value ? "up" : "down") + "</td><td>" + num(find(samples, "syncline_run_restarts_total", {child})) +
              "</td><td>" + num(inflight) + "</td><td>" + num(delivered) + "</td></tr>");
  }
  document.querySelector("#processes tbody").innerHTML = rows.join("");
  history.push({lag: lag || 0, rate: rate || 0});
  if (history.length > KEEP) history.shift();
  draw();
}

async function poll() {
  try {
    const res = await fetch("metrics", {cache: "no-store"});
    if (!res.ok) throw new Error("/metrics answered " + res.status);
    render(parse(await res.text()), Date.now());
    set("error", "");
  } catch (e) {
    set("error", "cannot read /metrics: " + e.message + " (is syncline run still running?)");
  }
}
poll();
setInterval(poll, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view status_page_html() { return page; }

}  // namespace syncline::cli
