// statgate web console: plain JavaScript, no build step, no request to
// any server but the one that served it. Pages are routed by the URL
// fragment (#/sql, #/dataset/npr, ...). The bearer token lives in
// sessionStorage only (never in a URL) and is sent as an Authorization
// header. Every value from the server is put into the page as text.
"use strict";

const TOKEN_KEY = "statgate.token";
const SPENT_KEY = "statgate.spent";

// ---- small DOM helpers ----------------------------------------------------

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: the CSP blocks style attributes
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const main = () => document.getElementById("main");
function show(...kids) { main().replaceChildren(...kids.flat()); }

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined) continue;
    if (k === "style") el.style.cssText = v; // CSSOM: the CSP blocks style attributes
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return el;
}

// ---- API ------------------------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

class Problem extends Error {
  constructor(p, status) { super(p.detail || "request failed"); this.problem = p; this.status = status; }
}

async function api(method, path, body, accept) {
  const headers = { Accept: accept || "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    let p = { title: resp.statusText, detail: "the server answered " + resp.status, status: resp.status };
    if (type.includes("json")) p = await resp.json();
    throw new Problem(p, resp.status);
  }
  if (accept && accept !== "application/json") return resp;
  return resp.json();
}

// problemBox renders a problem+json body: what was refused, why, and the hint.
function problemBox(err) {
  if (!(err instanceof Problem)) {
    return h("div", { class: "problem" }, h("div", { class: "title" }, "Could not reach the server"), h("div", {}, String(err)));
  }
  const p = err.problem;
  return h("div", { class: "problem", role: "alert", "data-code": p.code || "" },
    h("div", { class: "title" }, (p.title || "Refused") + (p.status ? " (" + p.status + ")" : "")),
    h("div", { class: "detail" }, p.detail || ""),
    p.hint ? h("div", { class: "hint" }, h("b", {}, "Hint: "), p.hint) : null,
    h("div", { class: "small muted" }, p.code ? ["code ", h("code", {}, p.code)] : null,
      p.request_id ? " · request " + p.request_id : null,
      err.status === 401 ? [" · ", h("a", { href: "#/signin" }, "sign in")] : null));
}

// features reads what this server's API offers from its OpenAPI document
// (once), so the console shows only what the server accepts: temporal
// cohort criteria (Criterion.after) and the free preview of rates and
// survival (their dry_run parameter).
let featuresOf = null;
function features() {
  featuresOf = featuresOf || api("GET", "/v1/openapi.json").then(doc => {
    const dryRun = path => ((doc.paths[path] || {}).post || {}).parameters?.some(p => p.$ref === "#/components/parameters/dry_run") || false;
    return { temporal: !!doc.components.schemas.Criterion?.properties?.after, epiDryRun: dryRun("/v1/rates") && dryRun("/v1/survival") };
  }).catch(() => ({ temporal: false, epiDryRun: false }));
  return featuresOf;
}

// ---- session --------------------------------------------------------------

let me = null; // GET /v1/me of the current token

async function loadMe() {
  me = null;
  if (token()) {
    try { me = await api("GET", "/v1/me"); } catch (e) { me = null; }
  }
  const who = document.getElementById("who");
  who.textContent = me ? me.principal + " · " + [...new Set(me.projects.map(p => p.role))].join(", ") : "Sign in";
  return me;
}

function projectsFor(action) {
  return me ? me.projects.filter(p => p.actions.includes(action)) : [];
}

function needSignIn(what) {
  return h("div", { class: "card" }, h("p", {}, what + " needs a token. "), h("a", { href: "#/signin" }, "Sign in with your token"));
}

// projectSelect lists projects, the one with the most datasets chosen
// (the one the examples most likely fit).
function projectSelect(projects, id) {
  const best = projects.reduce((a, p) => (!a || p.datasets.length > a.datasets.length ? p : a), null);
  return h("select", { id: id || "project" }, projects.map(p => h("option", { value: p.project, selected: best && p.project === best.project }, p.project + " — " + p.title)));
}

// recordSpend remembers what this tab ran under each query id (e.g.
// "template prescriptions_by_atc_year"), so the budget history, which
// knows only the kind, can name it.
function recordSpend(res, what) {
  const list = JSON.parse(sessionStorage.getItem(SPENT_KEY) || "[]");
  list.unshift({ what, query_id: res.meta.query_id });
  sessionStorage.setItem(SPENT_KEY, JSON.stringify(list.slice(0, 200)));
}

// ---- results --------------------------------------------------------------

const fmt = new Intl.NumberFormat("en", { maximumSignificantDigits: 6 });
function num(v) { return typeof v === "number" ? fmt.format(v) : v === null || v === undefined ? "" : String(v); }

function suppressedText(reason, res) {
  if (reason === "secondary") return "suppressed (secondary: it would reveal a suppressed cell)";
  if (reason === "denominator_may_be_zero") return "withheld (its divisor may be 0: the interval would be unbounded)";
  if (reason === "out_of_range") return "withheld (the value is too large to show)";
  const t = res.meta.suppress_below;
  return "suppressed (too few persons: noisy count below " + (t ? num(Math.round(t)) : res.meta.min_cell_count) + ")";
}

// resultView shows a released result: what it cost, the table with
// intervals and suppressed cells, a chart and the notes.
function resultView(res, rerun) {
  const m = res.meta;
  const cols = res.columns;
  const table = h("table", { class: "result" },
    h("thead", {}, h("tr", {}, cols.map(c => h("th", { class: c.role === "measure" ? "num" : "" }, c.name,
      c.role === "measure" ? h("div", { class: "small muted" }, c.aggregate) : null)))),
    h("tbody", {}, res.rows.map(r => h("tr", { class: r.margin ? "margin" : "" }, r.cells.map((cell, j) => {
      const c = cols[j];
      if (c.role !== "measure") return h("td", {}, cell.value === null ? (r.margin ? "Total" : "—") : String(cell.value));
      if (cell.suppressed) return h("td", { class: "suppressed", title: "reason: " + (cell.reason || "min_cell_count") }, suppressedText(cell.reason, res));
      return h("td", { class: "num" }, num(cell.value),
        cell.ci95 ? h("span", { class: "ci" }, "95% " + num(cell.ci95[0]) + " – " + num(cell.ci95[1])) : null,
        cell.stddev ? h("span", { class: "ci" }, "sd " + num(cell.stddev)) : null);
    })))));
  const spent = h("div", { class: "meta" },
    h("span", {}, h("b", {}, "ε spent: "), h("span", { class: "cost", id: "spent-epsilon" }, num(m.epsilon)), " on each of " + m.datasets.join(", ")),
    m.delta ? h("span", {}, h("b", {}, "δ: "), num(m.delta)) : null,
    h("span", {}, h("b", {}, "noise: "), m.mechanism),
    h("span", {}, h("b", {}, "suppressed cells: "), String(m.suppressed_cells)),
    h("span", { class: "muted" }, "query ", h("span", { class: "query-id" }, m.query_id)));
  const downloads = h("div", { class: "row" },
    h("button", { class: "secondary", onclick: () => downloadCSV(res) }, "Download CSV"),
    rerun ? h("button", { class: "secondary", title: "asks the server again for the Arrow stream; what that costs is said first", onclick: () => rerun() }, "Download Arrow") : null);
  return h("section", { class: "card", id: "result" },
    h("h2", {}, "Result"), spent, answerNotices(m), chart(res),
    res.rows.length ? table : h("p", { class: "empty" }, "No group was released: no row matched, or no group's noisy person count reached the release threshold. The ε was spent all the same (the answer is that nothing is large enough to show)."),
    downloads,
    m.notes && m.notes.length ? h("details", {}, h("summary", {}, "Notes (" + m.notes.length + ")"), h("ul", { class: "notes" }, m.notes.map(n => h("li", {}, n)))) : null);
}

// answerNotices says what a reader must know before reading the numbers:
// a free repeat (the stored answer of the same question, nothing spent)
// and the server's warnings (e.g. an answer that is mostly noise).
function answerNotices(m) {
  return [
    m.cached ? h("div", { class: "notice", id: "cached-notice" }, h("b", {}, "Free repeat. "),
      "This project asked the same question before" + (m.cached_from ? " (query " + m.cached_from + ")" : "") + ": this is that stored answer, the same numbers, and nothing was spent. Change the question to get a new answer.") : null,
    (m.warnings || []).map(w => h("div", { class: "notice warn", role: "note" }, h("b", {}, "Warning: "), w)),
  ];
}

function csvCell(v) {
  const t = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}

// downloadCSV writes the shown result as the API's CSV does: # comment
// lines with the ε and the notes, then the header and the rows.
function downloadCSV(res) {
  const m = res.meta;
  const lines = ["# statgate result: " + m.query_id, "# project: " + m.project + "; datasets: " + m.datasets.join(", "),
    "# epsilon: " + m.epsilon + " (delta " + m.delta + ", " + m.mechanism + " noise), debited from each dataset's budget"];
  for (const n of m.notes || []) lines.push("# note: " + n.replace(/[\r\n]+/g, " "));
  const header = [];
  for (const c of res.columns) {
    header.push(c.name);
    if (c.role === "measure") header.push(c.name + "_stddev", c.name + "_ci_low", c.name + "_ci_high");
  }
  header.push("suppressed");
  lines.push(header.map(csvCell).join(","));
  for (const r of res.rows) {
    const rec = [], supp = [];
    r.cells.forEach((cell, j) => {
      const c = res.columns[j];
      if (c.role !== "measure") { rec.push(cell.value); return; }
      if (cell.suppressed) { supp.push(c.name); rec.push("", "", "", ""); return; }
      rec.push(cell.value, cell.stddev, cell.ci95 ? cell.ci95[0] : "", cell.ci95 ? cell.ci95[1] : "");
    });
    rec.push(supp.join(";"));
    lines.push(rec.map(csvCell).join(","));
  }
  save(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }), "statgate-" + m.query_id + ".csv");
}

function save(blob, name) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// niceTicks returns round axis values (steps of 1, 2 or 5 × 10^k, about
// n of them) from at or below lo to at or above hi.
function niceTicks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(f => f * mag).find(x => x >= raw * (1 - 1e-9));
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

// chart draws the first measure against the first key: lines with a 95 %
// interval band when the key is a number (years), bars with error bars
// otherwise; a second key makes one series per value.
function chart(res) {
  const cols = res.columns;
  const mi = cols.findIndex(c => c.role === "measure");
  const keys = cols.map((c, i) => i).filter(i => cols[i].role === "key");
  if (mi < 0 || keys.length === 0) return null;
  const [xi, si] = keys;
  const rows = res.rows.filter(r => !r.margin && r.cells[xi].value !== null);
  if (rows.length === 0) return null;
  const numeric = cols[xi].type === "integer" || cols[xi].type === "number";
  const seriesOf = r => si === undefined ? "" : String(r.cells[si].value);
  const series = [...new Set(rows.map(seriesOf))].slice(0, 6);
  const xs = [...new Set(rows.map(r => r.cells[xi].value))];
  if (numeric) xs.sort((a, b) => a - b);
  if (xs.length > 60) return null;
  const val = r => r.cells[mi];
  let lo = 0, hi = 0;
  for (const r of rows) {
    const c = val(r);
    if (c.suppressed || c.value === null) continue;
    const [a, b] = c.ci95 || [c.value, c.value];
    lo = Math.min(lo, a, c.value); hi = Math.max(hi, b, c.value);
  }
  if (hi === lo) hi = lo + 1;
  const ticks = niceTicks(lo, hi, 4);
  lo = ticks[0]; hi = ticks[ticks.length - 1];
  const W = 760, H = 280, L = 60, R = 16, T = 14, B = 46;
  const y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const colors = ["#2f6db5", "#c0582b", "#2f8f5b", "#8a4fb8", "#b08a1a", "#4a5561"];
  const g = [];
  for (const v of ticks) {
    g.push(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eef1f4" }), s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)));
  }
  const step = (W - L - R) / xs.length;
  const xc = x => L + step * (xs.indexOf(x) + 0.5);
  series.forEach((name, k) => {
    const pts = rows.filter(r => seriesOf(r) === name && !val(r).suppressed && val(r).value !== null)
      .sort((a, b) => xs.indexOf(a.cells[xi].value) - xs.indexOf(b.cells[xi].value));
    const col = colors[k % colors.length];
    if (numeric) {
      const band = pts.filter(r => val(r).ci95);
      // One segment per run of neighbouring released values: a
      // suppressed cell breaks the line and its band.
      const segments = [];
      band.forEach((r, i) => {
        if (i === 0 || xs.indexOf(r.cells[xi].value) !== xs.indexOf(band[i - 1].cells[xi].value) + 1) segments.push([]);
        segments[segments.length - 1].push(r);
      });
      for (const seg of segments) {
        const up = seg.map(r => xc(r.cells[xi].value) + "," + y(val(r).ci95[1]));
        const down = seg.slice().reverse().map(r => xc(r.cells[xi].value) + "," + y(val(r).ci95[0]));
        if (seg.length > 1) g.push(s("polygon", { class: "band", points: up.concat(down).join(" "), fill: col }));
        else g.push(s("line", { class: "errbar", x1: xc(seg[0].cells[xi].value), x2: xc(seg[0].cells[xi].value), y1: y(val(seg[0]).ci95[0]), y2: y(val(seg[0]).ci95[1]), stroke: col }));
        if (seg.length > 1) g.push(s("polyline", { class: "line", stroke: col, points: seg.map(r => xc(r.cells[xi].value) + "," + y(val(r).value)).join(" ") }));
      }
      for (const r of pts) g.push(s("circle", { cx: xc(r.cells[xi].value), cy: y(val(r).value), r: 2.5, fill: col }));
    } else {
      const bw = step * 0.8 / series.length;
      for (const r of pts) {
        const x0 = L + step * xs.indexOf(r.cells[xi].value) + step * 0.1 + bw * k;
        const c = val(r);
        g.push(s("rect", { class: "bar", x: x0, width: Math.max(bw - 2, 1), y: Math.min(y(c.value), y(0)), height: Math.abs(y(0) - y(c.value)), fill: col }));
        if (c.ci95) g.push(s("line", { class: "errbar", x1: x0 + bw / 2, x2: x0 + bw / 2, y1: y(c.ci95[0]), y2: y(c.ci95[1]) }));
      }
    }
  });
  const every = Math.ceil(xs.length / 16);
  xs.forEach((x, i) => { if (i % every === 0) g.push(s("text", { x: xc(x), y: H - B + 16, "text-anchor": "middle" }, String(x).slice(0, 14))); });
  g.push(s("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#9aa6b2" }));
  g.push(s("text", { x: L, y: H - 8 }, cols[mi].name + " by " + cols[xi].name + (numeric ? " — line: released value, band: 95% interval" : " — bars: released value, whiskers: 95% interval")));
  if (series.length > 1) series.forEach((name, k) => g.push(s("text", { x: W - R - 150, y: T + 12 + 14 * k, style: "fill:" + colors[k % colors.length] }, cols[si].name + " = " + name)));
  return h("div", { class: "chart" }, s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "chart of " + cols[mi].name }, g));
}

// dryRunView shows what a request would cost and how accurate its answer
// would be (?dry_run=true: nothing is read, spent or audited).
function dryRunView(res) {
  const d = res.meta.dry_run;
  return h("section", { class: "card", id: "preview" }, h("h2", {}, "Preview (free: nothing was spent)"),
    h("div", { class: "meta" }, h("span", {}, h("b", {}, "would cost: "), d.cost.map(c => "ε " + num(c.epsilon) + " on " + c.dataset).join(", ")),
      h("span", {}, h("b", {}, "budget can pay: "), d.fits ? "yes" : "no"),
      d.cached ? h("span", { class: "cost" }, "a free repeat: this project asked it before, so running it returns that answer at no cost") : null,
      d.release_threshold ? h("span", {}, h("b", {}, "rows need a noisy count of "), num(Math.round(d.release_threshold)), " persons (about " + d.smallest_releasable + " true persons are released half of the time)") : null,
      d.bounds_from_data ? h("span", { class: "muted" }, "bounds chosen from the data at run time") : null),
    h("table", {}, h("thead", {}, h("tr", {}, ["measure", "aggregate", "expected sd", "95% ±", "note"].map(t => h("th", {}, t)))),
      h("tbody", {}, d.measures.map(m => h("tr", {}, h("td", {}, m.measure), h("td", {}, m.aggregate), h("td", { class: "num" }, m.stddev !== undefined ? num(m.stddev) : ""),
        h("td", { class: "num" }, m.half_width_95 !== undefined ? num(m.half_width_95) : ""), h("td", { class: "small" }, m.note || ""))))),
    h("p", { class: "small muted" }, "Remaining after: " + d.budget_after.map(b => b.dataset + " ε " + num(b.remaining_epsilon)).join(", ")));
}

// previewButton asks for the free dry run of the request body() builds.
function previewButton(target, path, body) {
  const b = h("button", { type: "button", class: "secondary preview", onclick: async () => {
    b.disabled = true;
    try { target.replaceChildren(dryRunView(await api("POST", path + "?dry_run=true", body()))); } catch (e) { target.replaceChildren(problemBox(e)); }
    finally { b.disabled = false; }
  } }, "Preview cost and accuracy (free)");
  return b;
}

// runAndShow posts a query request, shows the result (or the refusal)
// in target, and records what it spent.
async function runAndShow(target, path, body, what, button) {
  button.disabled = true;
  target.replaceChildren(h("p", { class: "spinner" }, "Running…"));
  try {
    const res = await api("POST", path, body);
    recordSpend(res, what);
    // The Arrow stream is a second request: the free dry run says first
    // whether it is a free repeat or what it would spend.
    const arrow = async () => {
      try {
        const d = (await api("POST", path + "?dry_run=true", body)).meta.dry_run;
        const cost = d.cached ? 0 : Math.max(0, ...d.cost.map(c => c.epsilon));
        if (cost > 0 && !confirm("The Arrow download asks the query again and spends ε " + num(cost) + " again. Continue?")) return;
        const resp = await api("POST", path, body, "application/vnd.apache.arrow.stream");
        save(await resp.blob(), "statgate-" + (resp.headers.get("Statgate-Query-Id") || "result") + ".arrow");
      } catch (e) { target.querySelector("#result").append(problemBox(e)); }
    };
    target.replaceChildren(resultView(res, arrow));
  } catch (e) {
    target.replaceChildren(problemBox(e));
  } finally {
    button.disabled = false;
  }
}

// ---- pages ----------------------------------------------------------------

async function pageDataMap(params) {
  const q = params.get("q") || "";
  const input = h("input", { type: "search", id: "search", value: q, placeholder: "Search datasets, variables and codes: diabetes, metformin, Oslo, sukkersyke, age …", autofocus: true });
  const results = h("div", { id: "datasets" });
  const form = h("form", { onsubmit: e => { e.preventDefault(); location.hash = "#/?q=" + encodeURIComponent(input.value.trim()); } }, input);
  show(h("h1", {}, "Data map"), h("p", { class: "lead" }, "What the registries hold, before you ask anything: datasets, variables, code lists, public domains and rounded sizes. No token needed."), form, results);
  try {
    const list = await api("GET", "/v1/datasets" + (q ? "?q=" + encodeURIComponent(q) : ""));
    if (q && list.datasets.length === 0) results.append(h("p", { class: "empty" }, "Nothing matches “" + q + "”. Try a diagnosis, a drug, a place or a variable: diabetes, metformin, Oslo, age."));
    else if (q) results.append(h("p", { class: "muted small" }, list.datasets.length === 1 ? "1 dataset matches “" + q + "”" : list.datasets.length + " datasets match “" + q + "”"));
    for (const d of list.datasets) results.append(datasetCard(d));
  } catch (e) { results.append(problemBox(e)); }
}

function datasetCard(d) {
  const matches = (d.matches || []).slice(0, 8);
  return h("div", { class: "card dataset", "data-name": d.name },
    h("h3", {}, h("a", { href: "#/dataset/" + encodeURIComponent(d.name) }, d.title), " ", h("span", { class: "tag" }, d.name), h("span", { class: "muted small" }, d.size + " rows")),
    h("div", {}, d.description || ""),
    matches.length ? h("div", { class: "matches" }, matches.map(m => h("div", { class: "match" }, "“" + m.word + "”",
      m.via ? " (as " + m.via + ")" : "", " matched ", h("b", {}, m.column ? d.name + "." + m.column + " " + m.field : m.field), ": ", m.text))) : null);
}

async function pageDataset(name) {
  show(h("p", { class: "spinner" }, "Loading…"));
  try {
    const d = await api("GET", "/v1/datasets/" + encodeURIComponent(name));
    const b = d.bounding;
    show(h("p", {}, h("a", { href: "#/" }, "← Data map")), h("h1", {}, d.title, " ", h("span", { class: "tag" }, d.name)),
      h("p", { class: "lead" }, d.description || ""),
      h("div", { class: "meta" }, h("span", {}, h("b", {}, "size: "), d.size), h("span", {}, h("b", {}, "person key: "), d.person_key),
        h("span", {}, h("b", {}, "one row per person: "), d.one_row_per_person ? "yes" : "no"),
        h("span", {}, h("b", {}, "min cell count: "), String(b.min_cell_count)), h("span", {}, h("b", {}, "counts rounded to: "), String(b.round_to)),
        h("span", {}, h("b", {}, "ε per query: "), num(b.epsilon_per_query.default) + " (max " + num(b.epsilon_per_query.max) + ")"),
        h("span", {}, h("b", {}, "noise: "), b.noise)),
      h("h2", {}, "Variables"),
      h("table", {}, h("thead", {}, h("tr", {}, ["name", "type", "description", "code system", "public domain", "bounds"].map(t => h("th", {}, t)))),
        h("tbody", {}, d.columns.map(c => h("tr", {},
          h("td", {}, h("code", {}, c.name), c.person_key ? h("span", { class: "tag warn" }, "person key") : null),
          h("td", {}, c.type), h("td", {}, c.description || ""),
          h("td", {}, c.code_system ? h("a", { href: "#/codelist/" + encodeURIComponent(c.code_system) }, c.code_system) : ""),
          h("td", {}, c.public_domain ? domainText(c.public_domain) : "", (c.prefix_domains || []).map(p => h("div", { class: "small muted" }, "first " + p.length + " character(s): ", domainText(p)))),
          h("td", {}, c.bounds ? "[" + c.bounds[0] + ", " + c.bounds[1] + "]" : ""))))),
      h("p", { class: "small muted" }, "Grouping by a column with a public domain lists every value, empty ones too; other keys pass private partition selection. Numeric aggregates need declared bounds."));
  } catch (e) { show(h("p", {}, h("a", { href: "#/" }, "← Data map")), problemBox(e)); }
}

function domainText(d) {
  if (d.code_list) return h("span", {}, h("a", { href: "#/codelist/" + encodeURIComponent(d.code_list) }, d.code_list), " (" + d.count + " codes)");
  return d.summary;
}

async function pageCodeLists() {
  show(h("h1", {}, "Code lists"), h("p", { class: "lead" }, "Code lists are public domains (every code is listed in results, empty ones too); code systems name codes for reading and search."));
  try {
    const list = await api("GET", "/v1/codelists");
    main().append(h("table", {}, h("thead", {}, h("tr", {}, ["name", "kind", "codes", "used by", "source", "licence"].map(t => h("th", {}, t)))),
      h("tbody", {}, list.code_lists.map(c => h("tr", {}, h("td", {}, h("a", { href: "#/codelist/" + encodeURIComponent(c.name) }, c.name)),
        h("td", {}, c.kind === "code_list" ? "public domain" : "code system"), h("td", { class: "num" }, String(c.count)),
        h("td", {}, c.used_by.join(", ")), h("td", { class: "small" }, c.source || ""), h("td", { class: "small" }, c.licence || ""))))));
  } catch (e) { main().append(problemBox(e)); }
}

async function pageCodeList(name, params) {
  const q = params.get("q") || "";
  const input = h("input", { type: "search", id: "code-search", value: q, placeholder: "Filter codes by code or name" });
  const form = h("form", { onsubmit: e => { e.preventDefault(); location.hash = "#/codelist/" + encodeURIComponent(name) + "?q=" + encodeURIComponent(input.value.trim()); } }, input);
  show(h("p", {}, h("a", { href: "#/codelists" }, "← Code lists")), h("h1", {}, name), form);
  try {
    const c = await api("GET", "/v1/codelists/" + encodeURIComponent(name) + (q ? "?q=" + encodeURIComponent(q) : ""));
    main().append(h("p", { class: "muted small" }, (c.kind === "code_list" ? "Public domain" : "Code system") + " · " + c.count + " codes · used by " + (c.used_by.join(", ") || "no column") + (c.source ? " · source: " + c.source : "") + (c.licence ? " · licence: " + c.licence : "")),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "code"), h("th", {}, "name"), h("th", {}, "level"))),
        h("tbody", {}, c.codes.map(x => h("tr", {}, h("td", {}, h("code", {}, x.code)), h("td", {}, x.name || ""), h("td", {}, x.level || ""))))));
  } catch (e) { main().append(problemBox(e)); }
}

function pageSignIn() {
  const input = h("input", { type: "password", id: "token", placeholder: "sg_…", autocomplete: "off", size: 60 });
  const out = h("div", { id: "signin-result" });
  const render = () => {
    out.replaceChildren();
    if (!me) return;
    out.append(h("div", { class: "card" }, h("h3", {}, "Signed in as ", h("span", { id: "principal" }, me.principal)),
      h("table", {}, h("thead", {}, h("tr", {}, ["project", "role", "may", "datasets"].map(t => h("th", {}, t)))),
        h("tbody", {}, me.projects.map(p => h("tr", {}, h("td", {}, p.project, h("div", { class: "small muted" }, p.title)), h("td", { class: "role" }, p.role),
          h("td", {}, p.actions.join(", ")), h("td", {}, p.datasets.join(", ")))))),
      h("p", {}, "Go on: ", projectsFor("templates").length ? h("a", { href: "#/templates" }, "run a template") : null,
        projectsFor("sql").length ? [" · ", h("a", { href: "#/sql" }, "ask SQL")] : null,
        projectsFor("cohorts").length ? [" · ", h("a", { href: "#/cohort" }, "build a cohort")] : null, " · ", h("a", { href: "#/budget" }, "see the budget")),
      h("button", { class: "secondary", onclick: () => { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(SPENT_KEY); loadMe().then(render); } }, "Sign out")));
  };
  const form = h("form", { id: "signin", onsubmit: async e => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    const old = token();
    sessionStorage.setItem(TOKEN_KEY, t);
    try {
      me = await api("GET", "/v1/me");
      input.value = "";
      await loadMe();
      render();
    } catch (err) {
      if (old) sessionStorage.setItem(TOKEN_KEY, old); else sessionStorage.removeItem(TOKEN_KEY);
      await loadMe();
      out.replaceChildren(problemBox(err));
    }
  } }, h("label", { for: "token" }, "Paste the token an operator gave you (statgate token create). It stays in this browser tab only."),
    h("p", { class: "small muted" }, "Trying statgate demo? It printed tokens in its terminal: ANALYST runs templates, RESEARCHER asks SQL, cohorts, rates and survival."),
    h("div", { class: "row" }, input, h("button", { type: "submit" }, "Sign in")));
  show(h("h1", {}, "Sign in"), form, out);
  render();
}

function paramInput(p) {
  const id = "param-" + p.name;
  let input;
  if (p.enum && p.enum.length) {
    input = h("select", { id, name: p.name }, p.enum.map(v => h("option", { value: v, selected: p.default === v }, v)));
  } else if (p.type === "integer" || p.type === "number") {
    input = h("input", { type: "number", id, name: p.name, min: p.min, max: p.max, step: p.type === "integer" ? 1 : "any",
      value: p.default !== undefined ? p.default : (p.min !== undefined ? p.min : ""), required: p.required });
  } else {
    const ex = /e\.g\.\s*([^\s,;)]+)/.exec(p.description || "");
    input = h("input", { type: "text", id, name: p.name, placeholder: ex ? ex[1] : "", value: p.default !== undefined ? p.default : (ex ? ex[1] : ""), required: p.required, pattern: p.pattern ? p.pattern.replace(/^\^|\$$/g, "") : undefined });
  }
  const range = p.min !== undefined || p.max !== undefined ? " (" + (p.min ?? "") + "–" + (p.max ?? "") + ")" : "";
  return h("div", {}, h("label", { for: id }, p.name + range + (p.description ? ": " + p.description : "")), input,
    p.pattern ? h("div", { class: "small muted" }, "pattern ", h("code", {}, p.pattern)) : null);
}

async function pageTemplates() {
  if (!me) return show(h("h1", {}, "Templates"), needSignIn("Running an approved template"));
  show(h("h1", {}, "Approved templates"), h("p", { class: "lead" }, "Each template is a query the registry approved. Fill in its parameters; the ε it costs is fixed and shown before you run it."));
  try {
    const list = await api("GET", "/v1/templates");
    if (list.templates.length === 0) main().append(h("p", {}, "No template is open to you."));
    for (const t of list.templates) {
      const projects = projectsFor("templates").filter(p => t.datasets.every(d => p.datasets.includes(d)));
      const out = h("div", { class: "template-result" });
      const button = h("button", { type: "submit" }, "Run — costs ε " + num(t.epsilon));
      const path = "/v1/templates/" + encodeURIComponent(t.name) + "/run";
      const body = () => {
        const params = {};
        for (const p of t.params) {
          const el = form.querySelector("[name='" + p.name + "']");
          if (el.value === "" && !p.required) continue;
          params[p.name] = p.type === "integer" ? parseInt(el.value, 10) : p.type === "number" ? Number(el.value) : el.value;
        }
        return { project: form.querySelector("select.project").value, params };
      };
      const form = h("form", { class: "template", "data-name": t.name, onsubmit: e => {
        e.preventDefault();
        runAndShow(out, path, body(), "template " + t.name, button);
      } },
        h("div", { class: "row" }, h("div", {}, h("label", {}, "project"), projectSelect(projects, "project-" + t.name)), t.params.map(paramInput), button, previewButton(out, path, body)));
      form.querySelector("select").classList.add("project");
      main().append(h("div", { class: "card" }, h("h3", {}, t.title, " ", h("span", { class: "tag" }, t.name)), h("p", {}, t.description || ""),
        h("p", { class: "small" }, h("span", { class: "cost" }, "ε " + num(t.epsilon)), " per run, debited from each of: " + t.datasets.join(", ")),
        projects.length ? form : h("p", { class: "muted" }, "None of your projects holds all of its datasets."),
        h("details", {}, h("summary", {}, "SQL"), h("pre", {}, t.sql)), out));
    }
  } catch (e) { main().append(problemBox(e)); }
}

const sqlExamples = [
  ["Patients per ICD-10 chapter", "SELECT icd10_chapter(icd10) AS chapter, count(DISTINCT pid) AS patients FROM npr GROUP BY 1"],
  ["Persons dispensed metformin per year", "SELECT year(dispensed_date) AS year, count(DISTINCT pid) AS persons FROM lmr WHERE atc = 'A10BA02' GROUP BY 1"],
  ["Type 2 diabetes by sex", "SELECT p.sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E11%' GROUP BY 1"],
  ["Mean length of stay by contact type", "SELECT contact_type, avg(length_of_stay_days) AS mean_stay, count(*) AS contacts FROM npr GROUP BY 1"],
  ["Median defined daily doses by drug group", "SELECT left(atc, 1) AS atc_group, median(ddd) AS median_ddd FROM lmr GROUP BY 1"],
  ["Refused: min releases one person's value", "SELECT min(ddd) AS smallest FROM lmr"],
];

async function pageSQL() {
  if (!me) return show(h("h1", {}, "SQL"), needSignIn("Ad-hoc SQL"));
  const projects = projectsFor("sql");
  if (!projects.length) return show(h("h1", {}, "SQL"), h("p", {}, "Your role does not allow ad-hoc SQL; try the ", h("a", { href: "#/templates" }, "templates"), "."));
  const editor = h("textarea", { id: "sql", rows: 7, spellcheck: "false" }, sqlExamples[0][1]);
  const eps = h("input", { type: "number", id: "epsilon", step: "any", min: "0", placeholder: "policy default" });
  const totals = h("input", { type: "checkbox", id: "totals" });
  const out = h("div", { id: "sql-result" });
  const button = h("button", { type: "submit", id: "run-sql" }, "Run");
  const examples = h("select", { id: "examples", onchange: e => { editor.value = e.target.value; } },
    sqlExamples.map(([t, q]) => h("option", { value: q }, t)));
  const sqlBody = () => {
    const body = { project: document.getElementById("project").value, sql: editor.value, totals: totals.checked || undefined };
    if (eps.value !== "") body.epsilon = Number(eps.value);
    return body;
  };
  const form = h("form", { onsubmit: e => {
    e.preventDefault();
    runAndShow(out, "/v1/query", sqlBody(), "sql", button);
  } }, h("div", { class: "row" }, h("div", {}, h("label", {}, "project"), projectSelect(projects)), h("div", {}, h("label", {}, "examples"), examples),
    h("div", {}, h("label", { for: "epsilon" }, "ε (blank: the default)"), eps), h("div", {}, h("label", { for: "totals" }, "margins"), totals)),
    h("label", { for: "sql" }, "SQL (one SELECT over the project's datasets)"), editor, h("div", { class: "row" }, button, previewButton(out, "/v1/query", sqlBody)));
  const ref = h("div", { id: "reference" }, h("p", { class: "spinner" }, "Loading the reference…"));
  show(h("h1", {}, "SQL console"), h("div", { class: "cols" }, h("div", {}, form, out), h("aside", {}, h("h2", {}, "Allowed SQL"), ref)));
  try {
    const r = await api("GET", "/v1/sql/reference");
    ref.replaceChildren(
      h("p", { class: "small muted" }, "Generated from the checker's own allow-list: what is listed here is exactly what is accepted."),
      h("details", { open: true }, h("summary", {}, "Statement"), h("table", {}, h("tbody", {}, r.statement.map(c => h("tr", {}, h("th", {}, c.clause), h("td", {}, c.rule)))))),
      h("details", {}, h("summary", {}, "Aggregates (" + r.aggregates.length + ")"), refTable(r.aggregates, editor)),
      h("details", {}, h("summary", {}, "Functions (" + r.functions.length + ")"), refTable(r.functions, editor)),
      h("details", {}, h("summary", {}, "Refused by name"), h("table", {}, h("tbody", {}, r.refused.map(x => h("tr", {},
        h("td", {}, x.names.join(", ")), h("td", {}, h("code", {}, x.code), h("div", { class: "small" }, x.reason), x.hint ? h("div", { class: "small muted" }, "hint: " + x.hint) : null)))))),
      h("details", {}, h("summary", {}, "Refusal codes (" + r.codes.length + ")"), h("table", {}, h("tbody", {}, r.codes.map(c => h("tr", {}, h("td", {}, h("code", {}, c.code)), h("td", { class: "small" }, c.doc)))))));
  } catch (e) { ref.replaceChildren(problemBox(e)); }
}

function refTable(fns, editor) {
  return h("table", {}, h("tbody", {}, fns.map(f => h("tr", {}, h("td", {}, h("code", {}, f.signature),
    f.synonyms && f.synonyms.length ? h("div", { class: "small muted" }, "also: " + f.synonyms.join(", ")) : null),
    h("td", { class: "small" }, f.doc, " ", h("a", { href: "#", onclick: e => { e.preventDefault(); editor.value = f.example; editor.focus(); } }, "example"))))));
}

// criteriaEditor edits a cohort's criteria as the API's CohortCriteria:
// rows of include ("has a row where …") and exclude ("has no row where
// …") criteria, each a dataset, a condition and an optional date range,
// and under "timing" the temporal conditions: dated after or before
// another include criterion's index date (within so many days), a
// washout, the age at the index date. datasets() lists the datasets a
// row may name (it changes with the project; refresh() re-reads it). A
// row keeps the fields it does not show, so a request edited as JSON
// loses nothing. Adding or removing a row fires a change event on el.
function criteriaEditor(datasets, ids, temporal) {
  ids = ids || {};
  const includes = h("div", { id: ids.include, class: "criteria" }), excludes = h("div", { id: ids.exclude, class: "criteria" });
  const el = h("div", { class: "criteria-editor" });
  const changed = () => { renumber(); el.dispatchEvent(new Event("change", { bubbles: true })); };
  const options = (sel, keep) => {
    const names = datasets().map(d => d.name);
    if (keep && !names.includes(keep)) names.push(keep); // named in JSON: the server says why not
    sel.replaceChildren(...names.map(n => h("option", { value: n, selected: n === keep }, n)));
  };
  // Rows are numbered as the API counts them in its refusals: from #0,
  // the includes first, then the excludes; a relative condition names an
  // include by its number.
  const renumber = () => {
    const rows = [...includes.querySelectorAll(".criterion")];
    [...rows, ...excludes.querySelectorAll(".criterion")].forEach((r, i) => { r.querySelector(".c-number").textContent = "#" + i; });
    for (const sel of el.querySelectorAll(".c-rel")) {
      const keep = sel.dataset.want !== undefined ? sel.dataset.want : sel.value;
      delete sel.dataset.want;
      const self = sel.closest(".criterion");
      sel.replaceChildren(h("option", { value: "" }, "—"), ...rows.map((r, i) => r === self ? null : h("option", { value: String(i), selected: String(i) === keep },
        "#" + i + " " + r.querySelector(".c-dataset").value + (r.querySelector(".c-where").value ? ": " + r.querySelector(".c-where").value.slice(0, 30) : ""))));
      if (keep !== "" && !sel.value) sel.append(h("option", { value: keep, selected: true }, "#" + keep + " (no such include)"));
    }
  };
  const numberInput = (cls, label, value, min, max) => h("input", { type: "number", class: cls, "aria-label": label, min, max, step: "1", value: value ?? "" });
  const relative = (which, r) => {
    const sel = h("select", { class: "c-rel c-" + which, "aria-label": "dated " + which + " the index date of" });
    sel.dataset.want = r ? String(r.criterion) : "";
    return h("span", { class: "timing-part" }, "dated " + which + " the index date of ", sel, " within ",
      numberInput("c-" + which + "-days", which + ": within days", r && r.within_days, 0, 36525), " days");
  };
  const add = (box, c) => {
    c = c || {};
    const ds = h("select", { class: "c-dataset", "aria-label": "dataset" });
    options(ds, c.dataset);
    const age = c.age_at_index || [];
    const timed = c.after || c.before || c.none_within_days_before || c.age_at_index;
    const timing = !temporal ? null : h("details", { class: "timing", open: !!timed }, h("summary", {}, "timing"),
      h("div", { class: "timing-parts" },
        relative("after", c.after), relative("before", c.before),
        h("span", { class: "timing-part" }, "washout: no such row in the ", numberInput("c-washout", "washout days", c.none_within_days_before, 1, 36525), " days before the index date"),
        h("span", { class: "timing-part" }, "age at the index date ", numberInput("c-age-min", "youngest age", age[0], 0, 150), " to ", numberInput("c-age-max", "oldest age", age[1], 0, 150))),
      h("div", { class: "small muted" }, "A criterion's index date is the date of the person's first row that meets it. Days count from the index date of the include criterion named."));
    const row = h("div", { class: "criterion" }, h("span", { class: "c-number" }), ds,
      h("input", { type: "text", class: "c-where", "aria-label": "condition", placeholder: "condition, e.g. icd10 LIKE 'E11%' (empty: any row)", value: c.where || "" }),
      h("input", { type: "date", class: "c-from", "aria-label": "from", title: "dated on or after (optional)", value: c.from || "" }),
      h("input", { type: "date", class: "c-to", "aria-label": "to", title: "dated on or before (optional)", value: c.to || "" }),
      h("button", { type: "button", title: "remove this criterion", onclick: () => { row.remove(); changed(); } }, "×"),
      timing);
    const { dataset, where, from, to, ...rest } = c;
    if (temporal) for (const k of ["after", "before", "none_within_days_before", "age_at_index"]) delete rest[k];
    row.extra = rest;
    box.append(row);
  };
  const int = (r, cls) => { const v = r.querySelector(cls).value; return v === "" ? undefined : parseInt(v, 10); };
  const read = box => [...box.querySelectorAll(".criterion")].map(r => {
    const c = { ...r.extra, dataset: r.querySelector(".c-dataset").value };
    const where = r.querySelector(".c-where").value.trim();
    if (where) c.where = where;
    if (r.querySelector(".c-from").value) c.from = r.querySelector(".c-from").value;
    if (r.querySelector(".c-to").value) c.to = r.querySelector(".c-to").value;
    if (!temporal) return c;
    for (const which of ["after", "before"]) {
      const sel = r.querySelector(".c-" + which);
      if (sel.value === "") continue;
      c[which] = { criterion: parseInt(sel.value, 10) };
      const days = int(r, ".c-" + which + "-days");
      if (days !== undefined) c[which].within_days = days;
    }
    const washout = int(r, ".c-washout");
    if (washout !== undefined) c.none_within_days_before = washout;
    const lo = int(r, ".c-age-min"), hi = int(r, ".c-age-max");
    if (lo !== undefined || hi !== undefined) c.age_at_index = [lo ?? 0, hi ?? 150];
    return c;
  });
  el.addEventListener("input", e => { if (e.target.classList.contains("c-where")) renumber(); });
  el.addEventListener("change", e => { if (e.target.classList.contains("c-dataset")) renumber(); });
  const head = h("div", { class: "criterion-head small muted" }, h("span"), h("span", {}, "dataset"), h("span", {}, "has a row where …"), h("span", {}, "dated from (optional)"), h("span", {}, "dated to (optional)"), h("span"));
  el.append(h("h3", {}, "Persons with a row in each of (include)"), head, includes,
    h("button", { type: "button", class: "secondary", onclick: () => { add(includes); changed(); } }, "+ include criterion"),
    h("h3", {}, "and none in (exclude)"), excludes,
    h("button", { type: "button", class: "secondary", onclick: () => { add(excludes, { dataset: datasets().some(d => d.name === "death_causes") ? "death_causes" : undefined }); changed(); } }, "+ exclude criterion"));
  return {
    el,
    read: () => ({ include: read(includes), exclude: read(excludes) }),
    write: c => {
      includes.replaceChildren(); excludes.replaceChildren();
      for (const x of (c && c.include) || []) add(includes, x);
      for (const x of (c && c.exclude) || []) add(excludes, x);
      renumber();
    },
    refresh: () => { for (const sel of el.querySelectorAll(".c-dataset")) options(sel, sel.value); renumber(); },
  };
}

// publicColumns are a dataset's columns with a public domain a result may
// be broken down by (not dates' years).
function publicColumns(d) {
  return d ? d.columns.filter(c => c.public_domain && c.public_domain.kind !== "years").map(c => c.name) : [];
}

// checkboxes is a row of named checkboxes; at most max may be ticked.
function checkboxes(names, checked, max, cls) {
  const box = h("div", { class: "row checks " + (cls || "") });
  const limit = () => {
    const n = box.querySelectorAll("input:checked").length;
    for (const i of box.querySelectorAll("input")) i.disabled = !i.checked && max && n >= max;
  };
  box.set = (names, checked) => {
    box.replaceChildren(...names.map(n => h("label", { class: "check" }, h("input", { type: "checkbox", value: n, checked: checked.includes(n) }), " " + n)));
    limit();
  };
  box.values = () => [...box.querySelectorAll("input:checked")].map(i => i.value);
  box.addEventListener("change", limit);
  box.set(names, checked);
  return box;
}

// datasetsOf lists the data map's datasets a project may read.
function datasetsOf(list, project) {
  return project ? list.datasets.filter(d => project.datasets.includes(d.name)) : [];
}

async function pageCohort() {
  if (!me) return show(h("h1", {}, "Cohorts"), needSignIn("A cohort estimate"));
  const projects = projectsFor("cohorts");
  if (!projects.length) return show(h("h1", {}, "Cohorts"), h("p", {}, "Your role does not allow cohort estimates."));
  const list = await api("GET", "/v1/datasets").catch(() => ({ datasets: [] }));
  const psel = projectSelect(projects);
  const project = () => projects.find(x => x.project === psel.value) || projects[0];
  const criteria = criteriaEditor(() => datasetsOf(list, project()), { include: "includes", exclude: "excludes" }, (await features()).temporal);
  criteria.write({ include: [{ dataset: "npr", where: "icd10 LIKE 'E11%'" }, { dataset: "lmr", where: "atc LIKE 'A10B%'" }] });
  psel.addEventListener("change", criteria.refresh);
  const persons = list.datasets.filter(d => d.one_row_per_person);
  const breakdownNames = ["age_band"];
  for (const d of persons) for (const c of publicColumns(d)) if (!breakdownNames.includes(c)) breakdownNames.push(c);
  const breakdowns = checkboxes(breakdownNames, ["sex", "age_band"]);
  const eps = h("input", { type: "number", id: "cohort-epsilon", step: "any", min: "0", placeholder: "policy default" });
  const out = h("div", { id: "cohort-result" });
  const button = h("button", { type: "submit" }, "Estimate");
  const cohortBody = () => {
    const body = { project: psel.value, ...criteria.read(), breakdown: breakdowns.values() };
    if (eps.value !== "") body.epsilon = Number(eps.value);
    return body;
  };
  const form = h("form", { onsubmit: e => {
    e.preventDefault();
    runAndShow(out, "/v1/cohorts/estimate", cohortBody(), "cohort", button);
  } }, h("div", {}, h("label", {}, "project"), psel), criteria.el,
    h("h3", {}, "Broken down by"), breakdowns,
    h("div", { class: "row" }, h("div", {}, h("label", { for: "cohort-epsilon" }, "ε (blank: the default)"), eps), button, previewButton(out, "/v1/cohorts/estimate", cohortBody)));
  show(h("h1", {}, "Cohort builder"), h("p", { class: "lead" }, "Count persons across registries linked by the person key: each include is “has a row where …”, each exclude “has no row where …”."), h("div", { class: "card" }, form), out);
}

async function pageBudget(params) {
  if (!me) return show(h("h1", {}, "Budget"), needSignIn("The budget"));
  const projects = me.projects;
  const sel = projectSelect(projects, "budget-project");
  if (params.get("project")) sel.value = params.get("project");
  const out = h("div", { id: "budget" });
  sel.addEventListener("change", () => { location.hash = "#/budget?project=" + encodeURIComponent(sel.value); });
  show(h("h1", {}, "Privacy budget"), h("p", { class: "lead" }, "Every released answer spends ε from each dataset it reads (and from the project's and your own cap, where the policy sets them), never refunded; a refused request, a preview and a free repeat cost nothing."),
    h("div", {}, h("label", {}, "project"), sel), out);
  try {
    const b = await api("GET", "/v1/projects/" + encodeURIComponent(sel.value) + "/budget");
    const bar = a => h("td", {}, h("div", { class: "budget-bar", title: "remaining" }, h("span", { style: "width:" + (100 * a.remaining / (a.total || 1)).toFixed(1) + "%" })));
    const amounts = a => [h("td", { class: "num remaining" }, num(a.remaining)), h("td", { class: "num" }, num(a.spent)), h("td", { class: "num" }, num(a.total)), bar(a)];
    const pp = b.per_person;
    if (pp) {
      out.append(h("div", { class: "card", id: "per-person" }, h("h2", {}, "What one person can lose in this project"),
        h("p", {}, "At most ", h("span", { class: "cost" }, "ε " + num(pp.epsilon)), pp.delta ? " (δ " + num(pp.delta) + ")" : "",
          pp.from === "project_budget" ? ", the project-wide budget: every answer is charged to it once, whatever registries it joins."
            : ", the sum of its datasets' budgets: an answer joining several registries can read one person in each.",
          " Spent so far on any one person: ", h("b", {}, "ε " + num(pp.spent_epsilon)), pp.spent_delta ? " (δ " + num(pp.spent_delta) + ")" : "", "."),
        pp.bound ? h("p", { class: "small muted" }, "Added up by " + (pp.bound === "zcdp" ? "zero-concentrated DP (zCDP) accounting" : "basic composition") + ", whichever gives the smaller valid bound.") : null));
    }
    const capName = c => c.scope === "project" ? "project-wide" : c.scope === "member" ? "member " + c.principal : c.scope === "lifetime" ? "lifetime of " + c.dataset + " (all projects)" : c.scope;
    // Where a cap written with ε alone takes its δ from (delta_from).
    const deltaFrom = {
      project_budget: "implied: the project-wide budget's δ",
      dataset_budgets: "implied: the sum of the project's per-dataset δs",
      projects: "implied: the sum of what every project reading it may spend",
      ceiling: "implied: capped at 0.5, a limit, not a meaningful bound",
    };
    if (b.caps && b.caps.length) {
      out.append(h("h2", {}, "Caps every answer is also charged to"),
        h("table", { id: "caps-table" }, h("thead", {}, h("tr", {}, ["budget", "remaining ε", "spent ε", "total ε", "", "remaining δ", "total δ"].map(t => h("th", {}, t)))),
          h("tbody", {}, b.caps.map(c => h("tr", { "data-cap": c.scope + ":" + (c.dataset || c.principal || "") }, h("td", {}, capName(c)), amounts(c.epsilon),
            h("td", { class: "num" }, c.delta.total ? num(c.delta.remaining) : "—"),
            h("td", { class: "num delta-total" }, c.delta.total ? num(c.delta.total) : "—",
              deltaFrom[c.delta_from] ? h("div", { class: "small muted" }, deltaFrom[c.delta_from]) : null))))),
        h("p", { class: "small muted" }, "An answer is released only if every budget it is charged to can pay; a refusal names the one that stopped it. A cap the policy writes with ε alone bounds ε; its δ is the one the budgets it sits over allow, so it never refuses a query they admit for its δ alone."));
    }
    out.append(h("h2", {}, "Per dataset"),
      h("table", { id: "budget-table" }, h("thead", {}, h("tr", {}, ["dataset", "remaining ε", "spent ε", "total ε", "", "remaining δ"].map(t => h("th", {}, t)))),
        h("tbody", {}, b.datasets.map(d => h("tr", { "data-dataset": d.dataset }, h("td", {}, d.dataset), amounts(d.epsilon),
          h("td", { class: "num" }, num(d.delta.remaining)))))));
  } catch (e) { out.append(problemBox(e)); }
  out.append(historyView(sel.value));
}

// historyView lists a project's debits from the ledger, newest first
// (GET /v1/projects/{id}/budget/history), a page at a time: who asked,
// when, what kind of request, what it cost and from which datasets. What
// this tab ran is named (the template, "sql", ...).
function historyView(project) {
  const mine = Object.fromEntries(JSON.parse(sessionStorage.getItem(SPENT_KEY) || "[]").map(x => [x.query_id, x.what]));
  const body = h("tbody", {});
  const box = h("section", { id: "history" }, h("h2", {}, "Recent spending"),
    h("p", { class: "small muted" }, "Every paid answer of this project, whoever asked. Free repeats of an answered question and previews cost nothing and are not listed."));
  const table = h("table", { id: "history-table" }, h("thead", {}, h("tr", {}, ["when (UTC)", "who", "kind", "ε", "δ", "datasets", "query"].map(t => h("th", {}, t)))), body);
  const more = h("button", { type: "button", class: "secondary", id: "history-more" }, "Older");
  const load = async before => {
    more.disabled = true;
    try {
      const page = await api("GET", "/v1/projects/" + encodeURIComponent(project) + "/budget/history?limit=20" + (before ? "&before=" + before : ""));
      if (!before && page.debits.length === 0) { box.append(h("p", { class: "muted", id: "history-empty" }, "Nothing spent yet: run a template, a query or a cohort estimate and it appears here.")); return; }
      if (!table.isConnected) box.append(table, more);
      for (const d of page.debits) {
        body.append(h("tr", { "data-query": d.query_id }, h("td", {}, d.time.replace("T", " ").slice(0, 19)), h("td", {}, d.principal),
          h("td", { class: "kind" }, d.kind, mine[d.query_id] ? h("div", { class: "small muted" }, mine[d.query_id].replace(d.kind + " ", "") + " (run in this tab)") : null),
          h("td", { class: "num" }, num(d.epsilon)), h("td", { class: "num" }, d.delta ? num(d.delta) : "0"),
          h("td", {}, d.datasets.join(", ")), h("td", { class: "small" }, d.query_id)));
      }
      more.hidden = !page.next_before;
      more.onclick = () => load(page.next_before);
    } catch (e) { box.append(problemBox(e)); } finally { more.disabled = false; }
  };
  load(0);
  return box;
}

// ---- router ---------------------------------------------------------------

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const page = parts[0] || "datamap";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === (page === "dataset" ? "datamap" : page === "codelist" ? "codelists" : page));
  document.body.dataset.page = page;
  switch (page) {
    case "dataset": return pageDataset(parts[1]);
    case "codelists": return pageCodeLists();
    case "codelist": return pageCodeList(parts[1], params);
    case "signin": return pageSignIn();
    case "templates": return pageTemplates();
    case "sql": return pageSQL();
    case "cohort": return pageCohort();
    case "budget": return pageBudget(params);
    case "rates": return pageAnalysis("rates");
    case "survival": return pageAnalysis("survival");
    default: return pageDataMap(params);
  }
}

window.addEventListener("hashchange", () => { route().catch(e => show(problemBox(e))); });
loadMe().then(route).catch(e => show(problemBox(e)));
