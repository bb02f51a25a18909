// The ketch dashboard's live parts: the function chart and the container log tail.
// Pages are rendered on the server; this script only polls two small JSON endpoints
// (same origin, the session cookie goes along) and redraws. No libraries, no build step.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const CHART_POLL_MS = 500;
const CHART_POINTS = 240;        // two minutes at two samples a second
const CHART_MIN_POINTS = 60;     // the x axis spans at least half a minute
const REFRESH_MS = 2000;
const LOG_POLL_MS = 1000;
const LOG_KEEP_LINES = 2000;     // older lines leave the page

function poll(url, everyMs, onData, onStop, onResponse) {
  let stopped = false;
  async function once() {
    if (stopped) return;
    let response;
    try {
      response = await fetch(url(), {credentials: "same-origin", cache: "no-store"});
    } catch (err) {
      setTimeout(once, everyMs * 4);   // the server may be restarting: try again later
      return;
    }
    if (!response.ok) {
      stopped = true;
      let message = `stopped: ${response.status}`;
      try { message = (await response.json()).error || message; } catch (e) {}
      onStop(message);
      return;
    }
    if (onResponse) await onResponse(response);
    else onData(await response.json());
    setTimeout(once, everyMs);
  }
  once();
}

function startChart(figure) {
  const svg = figure.querySelector("svg");
  const names = figure.dataset.series.split(",");
  const samples = [];
  const peaks = {};
  const lines = {};
  for (const name of names) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", `series series-${name}`);
    line.setAttribute("fill", "none");
    svg.appendChild(line);
    lines[name] = line;
    peaks[name] = 0;
  }
  const scale = figure.querySelector(".scale");
  function draw() {
    const peak = Math.max(1, ...samples.flatMap(s => names.map(n => s[n])));
    const top = peak * 1.1;    // headroom: a steady line does not hide in the top edge
    const [w, h] = [600, 200];
    for (const name of names) {
      const pts = samples.map((s, i) => {
        const x = (i / (Math.max(samples.length, CHART_MIN_POINTS) - 1)) * w;
        const y = h - 4 - (s[name] / top) * (h - 8);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
      lines[name].setAttribute("points", pts.join(" "));
    }
    if (scale) scale.textContent = `max ${peak}`;
  }
  let received = 0;
  let previous = null;
  poll(() => figure.dataset.chart, CHART_POLL_MS, sample => {
    // Counters come as totals so far: the chart shows their rates (CPU in % of one core,
    // inputs finished per second).
    const rate = (key, scale) => {
      const ok = previous && sample[key] !== null && previous[key] !== null;
      return ok ? Math.max(0, Math.round(scale * (sample[key] - previous[key]) /
                                         Math.max(1e-3, sample.t - previous.t))) : 0;
    };
    if ("cpu_seconds" in sample) sample.cpu_percent = rate("cpu_seconds", 100);
    if ("inputs_done" in sample) sample.done_per_s = rate("inputs_done", 1);
    previous = sample;
    for (const name of names) if (sample[name] === null) sample[name] = 0;
    samples.push(sample);
    if (samples.length > CHART_POINTS) samples.shift();
    received += 1;
    figure.dataset.points = String(received);
    for (const name of names) {
      peaks[name] = Math.max(peaks[name], sample[name]);
      figure.dataset["peak_" + name] = String(peaks[name]);
    }
    for (const el of document.querySelectorAll("[data-live]")) {
      const key = el.dataset.live;
      if (key in sample) el.textContent = String(sample[key]);
    }
    draw();
  }, message => {
    figure.classList.add("ended");
    if (scale) scale.textContent = message;
  });
}

function startLogTail(box) {
  let after = null;
  const status = document.getElementById("log-status");
  const url = () => box.dataset.logtail + (after === null ? "" : `&after=${after}`);
  poll(url, LOG_POLL_MS, data => {
    after = data.after;
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    for (const line of data.lines) {
      const row = document.createElement("div");
      row.className = `line src-${line.source}`;
      const ts = document.createElement("span");
      ts.className = "ts";
      ts.textContent = new Date(line.ts * 1000).toLocaleTimeString();
      row.append(ts, " ", line.text);   // text nodes: a log line is never markup
      box.appendChild(row);
    }
    while (box.childElementCount > LOG_KEEP_LINES) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
    if (status) status.textContent = data.running ? "live" : "the container has exited";
  }, message => {
    if (status) status.textContent = message;
  });
}

// htmx-style: an element with data-refresh is replaced, every REFRESH_MS, by the HTML
// fragment the server renders at that URL (the same template as the full page).
function startRefresh(el) {
  poll(() => el.dataset.refresh, REFRESH_MS, null, () => {}, async response => {
    el.innerHTML = await response.text();   // server-rendered, autoescaped
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(startRefresh);
  document.querySelectorAll("[data-chart]").forEach(startChart);
  document.querySelectorAll("[data-logtail]").forEach(startLogTail);
});
