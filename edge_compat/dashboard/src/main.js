// The dashboard: one request to /api/dashboard (the views, read as gdp_dashboard), rendered as
// tables and Chart.js charts. The dashboard key comes from the URL fragment (#key=..., never sent
// to the server) or the form, and lives in this tab's sessionStorage only.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip,
} from "chart.js";
import { count, money, ratio, share } from "./format.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement,
  PointElement, Legend, Tooltip);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";

const STORE = "gdp-dashboard-key";
const $ = (id) => document.getElementById(id);

function keyFromFragment() {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

function cell(text, value) {
  const td = document.createElement("td");
  td.textContent = text;
  if (value !== undefined && value !== null) td.dataset.value = String(value);
  return td;
}

function fillTable(id, rows, columns) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const [key, fmt] of columns) {
      const raw = row[key];
      tr.append(fmt ? cell(fmt(raw), raw) : cell(raw ?? "—"));
    }
    body.append(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("no data yet");
    td.colSpan = columns.length;
    tr.append(td);
    body.append(tr);
  }
}

function stat(testid, parts) {
  const p = document.querySelector(`[data-testid="${testid}"]`);
  p.replaceChildren();
  parts.forEach(([text, value, name], i) => {
    if (i) p.append(document.createTextNode(" | "));
    const span = document.createElement("span");
    span.textContent = text;
    span.dataset.value = String(value ?? "");
    span.dataset.name = name;
    p.append(span);
  });
}

const charts = {};
function chart(id, config) {
  charts[id]?.destroy();
  charts[id] = new Chart($(id), config);
}

function render(data) {
  const s = data.summary[0] || {};
  stat("summary-spend", [[money(s.spend), s.spend, "spend"]]);
  stat("summary-conversions", [[count(s.meta_conversions), s.meta_conversions, "meta"],
    [count(s.gdp_conversions), s.gdp_conversions, "gdp"]]);
  stat("summary-cpa", [[money(s.meta_cost_per_conversion), s.meta_cost_per_conversion, "meta"],
    [money(s.gdp_cost_per_conversion), s.gdp_cost_per_conversion, "gdp"]]);
  stat("summary-roas", [[ratio(s.meta_roas), s.meta_roas, "meta"],
    [ratio(s.gdp_roas), s.gdp_roas, "gdp"]]);

  fillTable("projects", data.byProject, [["project"], ["spend", money],
    ["meta_conversions", count], ["gdp_conversions", count], ["meta_cost_per_conversion", money],
    ["gdp_cost_per_conversion", money], ["meta_roas", ratio], ["gdp_roas", ratio]]);
  chart("chart-projects", {
    type: "bar",
    data: {
      labels: data.byProject.map((r) => r.project),
      datasets: [
        { label: "Spend ($)", data: data.byProject.map((r) => r.spend), backgroundColor: "#4f6bed", yAxisID: "y" },
        { label: "Conversions (Meta)", data: data.byProject.map((r) => r.meta_conversions), backgroundColor: "#2fb67c", yAxisID: "y1" },
        { label: "Conversions (GDP)", data: data.byProject.map((r) => r.gdp_conversions), backgroundColor: "#f2a93b", yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } },
  });
  chart("chart-daily", {
    type: "line",
    data: {
      labels: data.daily.map((r) => r.date),
      datasets: [
        { label: "Spend ($)", data: data.daily.map((r) => r.spend), borderColor: "#4f6bed", yAxisID: "y" },
        { label: "Conversions (Meta)", data: data.daily.map((r) => r.meta_conversions), borderColor: "#2fb67c", yAxisID: "y1" },
        { label: "Conversions (GDP)", data: data.daily.map((r) => r.gdp_conversions), borderColor: "#f2a93b", yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } },
  });

  fillTable("funnel", data.leadFunnel, [["project"], ["leads", count], ["synced", count],
    ["activated", count], ["customers", count]]);
  const funnel = data.leadFunnel.reduce((t, r) => [t[0] + r.leads, t[1] + r.synced,
    t[2] + r.activated, t[3] + r.customers], [0, 0, 0, 0]);
  chart("chart-funnel", {
    type: "bar",
    data: { labels: ["Leads", "Synced", "Activated", "Customers"],
      datasets: [{ label: "People", data: funnel, backgroundColor: "#7a5af8" }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } } },
  });

  const h = data.capiHealth[0] || {};
  const facts = $("capi");
  facts.replaceChildren();
  const reasons = Object.entries(h.dead_lettered_by_reason || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  for (const [label, value, text] of [
    ["Delivered (24 h)", h.delivered_24h, count(h.delivered_24h)],
    ["Delivered (all)", h.delivered_total, count(h.delivered_total)],
    ["Dead-lettered (24 h)", h.dead_lettered_24h, count(h.dead_lettered_24h)],
    ["Dead letters by reason", null, reasons || "none"],
    ["Open circuit breakers", h.open_breakers, count(h.open_breakers)],
    ["Queued for Meta", h.queued, count(h.queued)],
    ["Leads queued", h.leads_queued, count(h.leads_queued)],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = text;
    if (value !== null && value !== undefined) dd.dataset.value = String(value);
    facts.append(dt, dd);
  }

  const metricValue = (row) => row.value === null ? "—"
    : row.unit === "share" || row.unit === "change" ? share(row.value) : `${count(row.value)} min`;
  const metrics = $("metrics").querySelector("tbody");
  metrics.replaceChildren();
  for (const row of data.successMetrics) {
    const tr = document.createElement("tr");
    tr.dataset.metric = row.metric;
    const met = cell(row.met ? "✓ met" : "✗ not met");
    met.className = row.met ? "ok" : "bad";
    tr.append(cell(row.name), cell(row.target), cell(metricValue(row), row.value), met,
      cell(row.measured_as));
    metrics.append(tr);
  }

  fillTable("matchkeys", data.matchKeys, [["project"], ["meta_event_name"], ["delivered", count],
    ["em_share", share], ["ph_share", share], ["external_id_share", share],
    ["fbc_or_fbp_share", share], ["ip_and_ua_share", share], ["em_or_ph_share", share]]);

  const audiences = $("audiences");
  audiences.replaceChildren();
  const list = document.createElement("ul");
  for (const row of data.audiences) {
    const li = document.createElement("li");
    li.textContent = Object.values(row).join(" · ");
    list.append(li);
  }
  audiences.append(list);

  const gate = $("gate");
  gate.replaceChildren();
  for (const flag of data.gate) {
    const li = document.createElement("li");
    li.className = flag.enabled ? "on" : "off";
    li.dataset.flag = flag.flag_key;
    li.textContent = `${flag.gap} ${flag.flag_key}: ${flag.enabled ? "on" : "off"}`;
    gate.append(li);
  }

  fillTable("pulls", data.pulls.map((p) => ({ ...p, range: `${p.date_from} → ${p.date_to}` })),
    [["id"], ["range"], ["mode"], ["status"], ["rows_written", count], ["rows_restated", count],
      ["requests", count], ["finished_at"]]);

  const last = data.pulls.find((p) => p.status === "succeeded");
  const badge = $("freshness");
  if (last) {
    const minutes = Math.max(0, Math.round((Date.now() - Date.parse(last.finished_at)) / 60000));
    badge.textContent = `insights ${minutes} min old`;
    badge.className = minutes < 15 ? "badge ok" : "badge bad";
  } else {
    badge.textContent = "no insights pulled yet";
    badge.className = "badge bad";
  }
}

async function load(key) {
  const response = await fetch("/api/dashboard", { headers: { Authorization: `Bearer ${key}` } });
  if (response.status === 401) {
    sessionStorage.removeItem(STORE);
    showLogin("That key is unknown or revoked.");
    return;
  }
  if (!response.ok) {
    $("freshness").textContent = `the API answered ${response.status}`;
    return;
  }
  const body = await response.json();
  $("login").hidden = true;
  $("app").hidden = false;
  render(body.data);
  document.body.dataset.ready = "true";
}

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("freshness").textContent = "locked";
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  sessionStorage.setItem(STORE, key);
  load(key);
});

const key = keyFromFragment() || sessionStorage.getItem(STORE);
if (key) {
  sessionStorage.setItem(STORE, key);
  load(key);
} else {
  showLogin();
}
