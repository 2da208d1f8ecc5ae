// statgate web console: the incidence-rate and survival pages (POST
// /v1/rates, /v1/survival). Each is a field-by-field form built from the
// data map (datasets of the project, their date columns, the columns a
// result may be stratified by), with the request as JSON under
// "Advanced", kept in sync both ways. Loaded before app.js, whose helpers
// (h, api, show, num, ...) it uses when its pages run.
"use strict";

function estimate(e) {
  if (!e || e.suppressed || e.value === null) return h("td", { class: "suppressed" }, "suppressed");
  return h("td", { class: "num" }, num(e.value), e.ci95 ? h("span", { class: "ci" }, "95% " + num(e.ci95[0]) + " – " + num(e.ci95[1])) : null);
}

function keyText(k) { return Object.entries(k || {}).map(([a, b]) => a + " = " + b).join(", ") || "all"; }

function spentLine(m) {
  return [h("div", { class: "meta" }, h("span", {}, h("b", {}, "ε spent: "), h("span", { class: "cost" }, num(m.epsilon)), " on each of " + m.datasets.join(", ")),
    h("span", { class: "muted" }, "query ", h("span", { class: "query-id" }, m.query_id))), answerNotices(m)];
}

function ratesView(res) {
  return h("section", { class: "card", id: "result" }, h("h2", {}, "Incidence"), spentLine(res.meta),
    h("table", { class: "result" }, h("thead", {}, h("tr", {}, ["stratum", "events", "person-years", "rate"].map(t => h("th", {}, t)))),
      h("tbody", {}, res.rows.map(r => h("tr", {}, h("td", {}, keyText(r.key)), estimate(r.events), estimate(r.person_years), estimate(r.rate))))),
    res.standardised && res.standardised.length ? [h("h3", {}, "Standardised (ESP 2013)"), h("table", {}, h("tbody", {}, res.standardised.map(r => h("tr", {}, h("td", {}, keyText(r.key)), estimate(r.rate)))))] : null,
    res.meta.notes && res.meta.notes.length ? h("details", {}, h("summary", {}, "Notes (" + res.meta.notes.length + ")"), h("ul", { class: "notes" }, res.meta.notes.map(n => h("li", {}, n)))) : null);
}

// survivalChart draws each stratum's Kaplan–Meier curve as a step
// function with its 95 % interval as a stepped band.
function survivalChart(res, interval) {
  const W = 760, H = 280, L = 50, R = 150, T = 12, B = 40;
  const tmax = Math.max(1, ...res.strata.flatMap(st => st.points.map(p => p.time)));
  const x = t => L + (W - L - R) * t / tmax, y = v => T + (H - T - B) * (1 - v);
  const colors = ["#2f6db5", "#c0582b", "#2f8f5b", "#8a4fb8", "#b08a1a", "#4a5561"];
  const g = [];
  for (let k = 0; k <= 4; k++) g.push(s("line", { x1: L, x2: W - R, y1: y(k / 4), y2: y(k / 4), stroke: "#eef1f4" }), s("text", { x: L - 6, y: y(k / 4) + 4, "text-anchor": "end" }, String(k / 4)));
  const every = Math.ceil(tmax / 12); // at most about a dozen labels (60 months: every 5th)
  for (let t = 0; t <= tmax; t += every) g.push(s("text", { x: x(t), y: H - B + 16, "text-anchor": "middle" }, String(t)));
  res.strata.forEach((st, k) => {
    const col = colors[k % colors.length];
    let prev = { t: 0, v: 1, lo: 1, hi: 1 }, line = "M" + x(0) + "," + y(1);
    for (const p of st.points) {
      if (p.survival === null) break;
      if (p.ci95) g.push(s("rect", { class: "band", x: x(prev.t), width: x(p.time) - x(prev.t), y: y(p.ci95[1]), height: y(p.ci95[0]) - y(p.ci95[1]), fill: col }));
      line += " H" + x(p.time) + " V" + y(p.survival);
      prev = { t: p.time, v: p.survival };
    }
    g.push(s("path", { class: "line step", d: line, stroke: col }));
    const drawn = st.points.length && st.points[0].survival !== null;
    g.push(s("text", { x: W - R + 8, y: T + 14 + 14 * k, style: "fill:" + (drawn ? col : "#8a95a1") }, keyText(st.key) + (drawn ? "" : " (suppressed)")));
  });
  g.push(s("text", { x: L, y: H - 6 }, "survival by " + (interval === "month" ? "months" : "years") + " since the index event — steps: Kaplan–Meier estimate, shaded: 95% interval"));
  return h("div", { class: "chart" }, s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "survival curves" }, g));
}

function survivalView(res, interval) {
  return h("section", { class: "card", id: "result" }, h("h2", {}, "Survival"), spentLine(res.meta), survivalChart(res, interval),
    res.strata.map(st => h("details", {}, h("summary", {}, keyText(st.key) + (st.median_survival ? " — median " + num(st.median_survival.value) : "")),
      h("table", {}, h("thead", {}, h("tr", {}, ["time", "survival", "at risk"].map(t => h("th", {}, t)))),
        h("tbody", {}, st.points.map(p => h("tr", {}, h("td", {}, String(p.time)),
          p.survival === null ? h("td", { class: "suppressed" }, "suppressed") : h("td", { class: "num" }, num(p.survival), p.ci95 ? h("span", { class: "ci" }, "95% " + num(p.ci95[0]) + " – " + num(p.ci95[1])) : null),
          h("td", { class: "num" }, p.at_risk === null ? "—" : num(p.at_risk)))))))),
    res.meta.notes && res.meta.notes.length ? h("details", {}, h("summary", {}, "Notes (" + res.meta.notes.length + ")"), h("ul", { class: "notes" }, res.meta.notes.map(n => h("li", {}, n)))) : null);
}

// ---- the forms ------------------------------------------------------------

// analysisExamples are the requests each page starts from: they run on
// the demo's registries.
const analysisExamples = {
  rates: { project: "diabetes-2026", event: { dataset: "npr", column: "contact_date", where: "icd10 LIKE 'E11%'" },
    period: { from: "2015-01-01", to: "2024-12-31" }, strata: ["sex"], standardise: "esp2013", per: 100000, epsilon: 1 },
  survival: { project: "cancer-survival", index: { dataset: "cancer", column: "diagnosis_date", where: "icd10 LIKE 'C50%'" },
    event: { dataset: "death_causes", column: "death_date" }, end: "2024-12-31", interval: "year", horizon: 5, strata: ["stage"], epsilon: 1 },
};

// field wraps an input with its label.
function field(label, input, note) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, note ? h("div", { class: "small muted" }, note) : null);
}

// dateColumns are a dataset's date columns.
function dateColumns(d) { return d ? d.columns.filter(c => c.type === "date").map(c => c.name) : []; }

// eventEditor edits an EventSpec: the dataset (of the project), the date
// column that dates its rows, and the condition a row must meet.
// onDataset is called when the dataset changes.
function eventEditor(key, datasets, placeholder, onDataset) {
  const ds = h("select", { id: key + "-dataset" }), col = h("select", { id: key + "-column" });
  const where = h("input", { type: "text", id: key + "-where", class: "grow", placeholder });
  let extra = {};
  const columns = keep => {
    const cols = dateColumns(datasets().find(d => d.name === ds.value));
    if (keep && !cols.includes(keep)) cols.push(keep);
    col.replaceChildren(...(cols.length ? cols : [""]).map(c => h("option", { value: c, selected: c === keep }, c || "(no date column)")));
  };
  const names = keep => {
    const list = datasets().map(d => [d.name, d.name + " — " + d.title]);
    if (keep && !list.some(([n]) => n === keep)) list.push([keep, keep + " (not in this project)"]);
    ds.replaceChildren(...list.map(([n, t]) => h("option", { value: n, selected: n === keep }, t)));
  };
  ds.addEventListener("change", () => { columns(); if (onDataset) onDataset(); });
  const el = h("div", { class: "row event" }, field("dataset", ds), field("dated by", col), h("div", { class: "field grow" }, h("label", { for: where.id }, "where (empty: any row)"), where));
  return {
    el,
    dataset: () => ds.value,
    read: () => {
      const e = { ...extra, dataset: ds.value };
      if (col.value) e.column = col.value;
      if (where.value.trim()) e.where = where.value.trim();
      return e;
    },
    write: e => {
      const { dataset, column, where: w, ...rest } = e || {};
      extra = rest;
      names(dataset);
      columns(column);
      where.value = w || "";
    },
    refresh: () => { const keep = col.value; names(ds.value); columns(keep); },
  };
}

// numberOrNone reads a number input: undefined when blank.
function numberOrNone(input) { return input.value === "" ? undefined : Number(input.value); }

// analysisParts are what the rates and survival forms share: the
// project, the strata checkboxes (at most 3; strataNames() lists them),
// ε and the optional cohort. onProject is called when the project
// changes, before the strata are re-listed.
function analysisParts(list, projects, kind, strataNames, onProject, temporal) {
  const psel = projectSelect(projects, kind + "-project");
  const datasets = () => datasetsOf(list, projects.find(p => p.project === psel.value));
  const strata = checkboxes([], [], 3, "strata");
  strata.id = "strata";
  const eps = h("input", { type: "number", id: "analysis-epsilon", min: "0", step: "any", placeholder: "policy default" });
  const cohort = criteriaEditor(datasets, {}, temporal);
  const cohortBox = h("details", { class: "cohort-part" }, h("summary", {}, "Only persons in a cohort (optional)"), cohort.el);
  const restrata = () => strata.set(strataNames(), strata.values());
  psel.addEventListener("change", () => { onProject(); cohort.refresh(); restrata(); });
  return {
    psel, datasets, strata, restrata, cohortBox,
    epsField: field("ε (blank: the default)", eps),
    // read adds the shared fields to the request b.
    read: b => {
      if (strata.values().length) b.strata = strata.values();
      if (numberOrNone(eps) !== undefined) b.epsilon = numberOrNone(eps);
      const c = cohort.read();
      if (c.include.length || c.exclude.length) b.cohort = c;
      return b;
    },
    // project selects b's project (before the datasets are filled);
    // write fills the shared fields from b.
    project: b => { if (b.project && projects.some(p => p.project === b.project)) psel.value = b.project; },
    write: b => {
      strata.set([...new Set([...strataNames(), ...(b.strata || [])])], b.strata || []);
      eps.value = b.epsilon ?? "";
      cohort.write(b.cohort);
      cohortBox.open = !!(b.cohort && ((b.cohort.include || []).length || (b.cohort.exclude || []).length));
    },
  };
}

// ratesForm is the form of POST /v1/rates.
function ratesForm(list, projects, temporal) {
  const strataNames = () => ["age_band", "year", ...parts.datasets().filter(d => d.one_row_per_person).flatMap(publicColumns)];
  const parts = analysisParts(list, projects, "rates", strataNames, () => event.refresh(), temporal);
  const event = eventEditor("event", parts.datasets, "e.g. icd10 LIKE 'E11%'");
  const from = h("input", { type: "date", id: "period-from" }), to = h("input", { type: "date", id: "period-to" });
  const standardise = h("input", { type: "checkbox", id: "standardise" });
  const per = h("input", { type: "number", id: "per", min: "1", step: "any", placeholder: "100000" });
  const el = h("div", {},
    h("div", { class: "row" }, field("project", parts.psel), field("period from", from), field("period to", to)),
    h("h3", {}, "Event: a person's first row of"), event.el,
    h("h3", {}, "Stratified by (at most 3)"), parts.strata,
    h("div", { class: "small muted" }, "age_band: attained age in the ESP 2013 groups; year: calendar year of the person-time; the others: the persons register's columns"),
    h("div", { class: "row" }, h("label", { class: "check" }, standardise, " also standardise to the 2013 European Standard Population"),
      field("rate per person-years", per), parts.epsField),
    parts.cohortBox);
  return {
    el,
    known: ["project", "event", "period", "strata", "standardise", "per", "epsilon", "cohort"],
    read: () => {
      const b = { project: parts.psel.value, event: event.read(), period: { from: from.value, to: to.value } };
      if (standardise.checked) b.standardise = "esp2013";
      if (numberOrNone(per) !== undefined) b.per = numberOrNone(per);
      return parts.read(b);
    },
    write: b => {
      parts.project(b);
      event.write(b.event);
      from.value = (b.period && b.period.from) || ""; to.value = (b.period && b.period.to) || "";
      standardise.checked = !!b.standardise;
      per.value = b.per ?? "";
      parts.write(b);
    },
  };
}

// survivalForm is the form of POST /v1/survival.
function survivalForm(list, projects, temporal) {
  const strataNames = () => {
    const ix = list.datasets.find(d => d.name === index.dataset());
    return [...new Set(["age_band", ...publicColumns(ix), ...parts.datasets().filter(d => d.one_row_per_person).flatMap(publicColumns)])];
  };
  const parts = analysisParts(list, projects, "survival", strataNames, () => { index.refresh(); event.refresh(); }, temporal);
  const index = eventEditor("index", parts.datasets, "e.g. icd10 LIKE 'C50%'", () => parts.restrata());
  const event = eventEditor("event", parts.datasets, "empty: any row (e.g. any death)");
  const end = h("input", { type: "date", id: "end" });
  const interval = h("select", { id: "interval" }, h("option", { value: "year" }, "years"), h("option", { value: "month" }, "months"));
  const horizon = h("input", { type: "number", id: "horizon", min: "1", max: "360", step: "1", placeholder: "5 years or 60 months" });
  const el = h("div", {},
    h("div", { class: "row" }, field("project", parts.psel), field("follow-up ends (censoring date)", end), field("interval", interval), field("horizon (intervals)", horizon)),
    h("h3", {}, "Index: follow-up starts at a person's first row of"), index.el,
    h("h3", {}, "Event: ends at their first row on or after it of"), event.el,
    h("h3", {}, "Stratified by (at most 3)"), parts.strata,
    h("div", { class: "small muted" }, "age_band: age at the index date; the others: the index dataset's or the persons register's columns with a public domain"),
    h("div", { class: "row" }, parts.epsField),
    parts.cohortBox);
  return {
    el,
    known: ["project", "index", "event", "end", "interval", "horizon", "strata", "epsilon", "cohort"],
    read: () => {
      const b = { project: parts.psel.value, index: index.read(), event: event.read(), end: end.value, interval: interval.value };
      if (numberOrNone(horizon) !== undefined) b.horizon = numberOrNone(horizon);
      return parts.read(b);
    },
    write: b => {
      parts.project(b);
      index.write(b.index); event.write(b.event);
      end.value = b.end || ""; interval.value = b.interval === "month" ? "month" : "year";
      horizon.value = b.horizon ?? "";
      parts.write(b);
    },
  };
}

// syncJSON keeps a form and its JSON editor in step: a change to a field
// rewrites the JSON; JSON that parses refills the fields (keys the form
// does not know are kept and sent). The JSON is what is sent.
function syncJSON(formEl, f, editor, status) {
  let extra = {};
  const toJSON = () => {
    editor.value = JSON.stringify({ ...extra, ...f.read() }, null, 2);
    status.textContent = "";
    status.className = "small muted";
  };
  const fromForm = e => { if (e.target !== editor) toJSON(); };
  formEl.addEventListener("input", fromForm);
  formEl.addEventListener("change", fromForm);
  editor.addEventListener("input", () => {
    let b;
    try { b = JSON.parse(editor.value); } catch (err) {
      status.textContent = "Not valid JSON yet (" + err.message + "); the fields above keep their values.";
      status.className = "small warn-text";
      return;
    }
    if (!b || typeof b !== "object" || Array.isArray(b)) { status.textContent = "The request is a JSON object {…}."; status.className = "small warn-text"; return; }
    extra = Object.fromEntries(Object.entries(b).filter(([k]) => !f.known.includes(k)));
    f.write(b);
    status.textContent = "The fields above follow this JSON.";
    status.className = "small muted";
  });
  return toJSON;
}

// pageAnalysis is the page of POST /v1/rates or /v1/survival: the form,
// started from a working example, the JSON under "Advanced", a free
// preview and the result.
async function pageAnalysis(kind) {
  const title = kind === "rates" ? "Incidence rates" : "Survival";
  if (!me) return show(h("h1", {}, title), needSignIn(title));
  const projects = projectsFor("cohorts");
  if (!projects.length) return show(h("h1", {}, title), h("p", {}, "Your role does not allow rates and survival (they need the cohorts action)."));
  const list = await api("GET", "/v1/datasets").catch(() => ({ datasets: [] }));
  const can = await features();
  const f = kind === "rates" ? ratesForm(list, projects, can.temporal) : survivalForm(list, projects, can.temporal);
  const path = "/v1/" + kind;
  const editor = h("textarea", { id: "analysis", rows: 14, spellcheck: "false", "aria-label": "the request as JSON" });
  const status = h("div", { class: "small muted", id: "analysis-json-status" });
  const out = h("div", { id: "analysis-result" });
  const button = h("button", { type: "submit", id: "run-analysis" }, "Run");
  const body = () => JSON.parse(editor.value);
  const form = h("form", { id: kind + "-form", onsubmit: async e => {
    e.preventDefault();
    let b;
    try { b = body(); } catch (err) { out.replaceChildren(h("div", { class: "problem", role: "alert" }, h("div", { class: "title" }, "The JSON under Advanced is not valid"), String(err))); return; }
    button.disabled = true;
    out.replaceChildren(h("p", { class: "spinner" }, "Running…"));
    try {
      const res = await api("POST", path, b);
      recordSpend(res, kind);
      out.replaceChildren(kind === "rates" ? ratesView(res) : survivalView(res, b.interval));
    } catch (err) { out.replaceChildren(problemBox(err)); } finally { button.disabled = false; }
  } }, f.el,
    h("details", { class: "advanced", id: "advanced" }, h("summary", {}, "Advanced: the request as JSON (POST " + path + ")"),
      h("p", { class: "small muted" }, "Edit either side: the fields and this JSON follow each other. ", h("a", { href: "/v1/openapi.json" }, "The OpenAPI document"), " describes every field."),
      editor, status),
    h("div", { class: "row" }, button, can.epiDryRun ? previewButton(out, path, body) : null));
  const toJSON = syncJSON(form, f, editor, status);
  f.write(analysisExamples[kind]);
  toJSON();
  show(h("h1", {}, title), h("p", { class: "lead" }, kind === "rates" ? "Events per person-time from the persons register, by calendar year and attained age, optionally standardised to the 2013 European Standard Population."
    : "Kaplan–Meier survival after an index event, censored at the end date, by strata."), h("div", { class: "card" }, form), out);
}
