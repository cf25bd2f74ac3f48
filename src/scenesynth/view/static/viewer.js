// scenesynth viewer: a static page over paged data files (see scenesynth/view/build.py).
// Data files are loaded with <script> tags because browsers block fetch() of file:// URLs.
"use strict";

const META = window.SS_META;
const INDEX = window.SS_INDEX;
const SVGNS = "http://www.w3.org/2000/svg";
const PAGE = 24;
const FAILURE_PAGE = 50;

const store = { samples: {}, graphs: {}, failures: {} };
const waiting = {};
const SS = (window.SS = {});
function arrived(kind, n, data) {
  store[kind][n] = data;
  const key = kind + ":" + n;
  (waiting[key] || []).forEach((w) => w.resolve(data));
  delete waiting[key];
}
SS.chunk = (n, data) => arrived("samples", n, data);
SS.graphs = (n, data) => arrived("graphs", n, data);
SS.failures = (n, data) => arrived("failures", n, data);

function load(kind, n) {
  if (store[kind][n] !== undefined) return Promise.resolve(store[kind][n]);
  const key = kind + ":" + n;
  return new Promise((resolve, reject) => {
    if (!waiting[key]) {
      waiting[key] = [];
      const tag = document.createElement("script");
      tag.src = "data/" + kind + "-" + String(n).padStart(5, "0") + ".js";
      tag.onerror = () => {
        (waiting[key] || []).forEach((w) => w.reject(new Error("cannot load " + tag.src)));
        delete waiting[key];
      };
      document.head.appendChild(tag);
    }
    waiting[key].push({ resolve, reject });
  });
}

async function getSample(i) {
  const per = META.samples_per_chunk;
  const chunk = await load("samples", Math.floor(i / per));
  return chunk[i % per];
}
async function getGraph(g) {
  if (g === null || g === undefined) return null;
  const per = META.graphs_per_chunk;
  const chunk = await load("graphs", Math.floor(g / per));
  return chunk[g % per];
}

// -- small DOM helpers ----------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
function svg(tag, attrs) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}
function fmt(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// "image:object" references, as stored in provenance and program outputs.
function parseRef(ref) {
  const s = String(ref);
  const cut = s.indexOf(":");
  if (cut < 0) return { image: 0, id: s };
  return { image: Number(s.slice(0, cut)), id: s.slice(cut + 1) };
}
function refsIn(value) {
  const out = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "string" && /^\d+:/.test(v)) out.push(v);
  };
  walk(value);
  return out;
}

// -- filters and the matching sample list --------------------------------------------------
const state = { filters: {}, page: 0, fpage: 0, freason: -1, matches: null, fmatches: null };

function buildFilters() {
  const form = document.getElementById("filters");
  for (const facet of META.facets) {
    const values = META.facet_values[facet];
    const counts = META.facet_counts[facet];
    const select = el("select", { id: "filter-" + facet, name: facet });
    select.append(el("option", { value: "-1" }, "all (" + values.length + ")"));
    const order = values.map((v, i) => i).sort((a, b) => (counts[values[b]] || 0) - (counts[values[a]] || 0));
    for (const code of order) {
      const label = (values[code] === "" ? "(none)" : values[code]) + " (" + (counts[values[code]] || 0) + ")";
      select.append(el("option", { value: String(code) }, label));
    }
    select.addEventListener("change", () => {
      state.filters[facet] = Number(select.value);
      state.page = 0;
      state.matches = null;
      renderGrid();
    });
    form.append(el("label", {}, facet, select));
  }
  const reasons = el("select", { id: "filter-failure-reason" });
  reasons.append(el("option", { value: "-1" }, "all (" + META.failure_reasons.length + ")"));
  META.failure_reasons.forEach((r, i) => reasons.append(el("option", { value: String(i) }, r)));
  reasons.addEventListener("change", () => {
    state.freason = Number(reasons.value);
    state.fpage = 0;
    state.fmatches = null;
    renderFailures();
  });
  document.getElementById("failure-filters").append(el("label", {}, "failure reason", reasons));
}

function matches() {
  if (state.matches) return state.matches;
  const active = Object.entries(state.filters).filter(([, code]) => code >= 0);
  const out = [];
  for (let i = 0; i < META.samples; i++) {
    let ok = true;
    for (const [facet, code] of active) if (INDEX[facet][i] !== code) { ok = false; break; }
    if (ok) out.push(i);
  }
  state.matches = out;
  return out;
}

// -- drawing an image with its boxes and relation arrows -----------------------------------
function figure(graph, url, k, highlight) {
  const w = graph ? graph.w : 100;
  const h = graph ? graph.h : 100;
  const fig = el("div", { class: "fig", "data-image": String(k) });
  if (url) {
    fig.append(el("img", { src: url, alt: graph ? graph.id : "image", loading: "lazy", width: String(w), height: String(h) }));
  } else {
    fig.append(el("div", { class: "noimg", style: "aspect-ratio:" + w + "/" + h }, "no image file"));
  }
  const overlay = svg("svg", { class: "overlay", viewBox: "0 0 " + w + " " + h, preserveAspectRatio: "none" });
  fig.append(overlay);
  if (graph) drawOverlay(overlay, graph, k, highlight);
  return fig;
}

function objectIndex(graph) {
  if (!graph._byId) {
    graph._byId = {};
    for (const o of graph.objects) graph._byId[o.id] = o;
  }
  return graph._byId;
}

function drawBox(overlay, box, cls, ref, label) {
  const [x0, y0, x1, y1] = box;
  const rect = svg("rect", { class: "box " + cls, x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  if (ref) rect.setAttribute("data-obj", ref);
  overlay.append(rect);
  if (label) {
    const text = svg("text", { class: "label", x: x0 + 2, y: Math.max(y0 - 3, 12) });
    text.textContent = label;
    overlay.append(text);
  }
}

function drawOverlay(overlay, graph, k, hl) {
  while (overlay.firstChild) overlay.firstChild.remove();
  const byId = objectIndex(graph);
  for (const ref of hl.objects || []) {
    const r = parseRef(ref);
    const o = byId[r.id];
    if (r.image !== k || !o || !o.box) continue;
    drawBox(overlay, o.box, hl.cls || "", ref, [...o.attrs, o.name].join(" "));
  }
  for (const [s, p, t] of hl.relations || []) {
    const a = parseRef(s), b = parseRef(t);
    if (a.image !== k || b.image !== k) continue;
    const oa = byId[a.id], ob = byId[b.id];
    if (!oa || !ob || !oa.box || !ob.box) continue;
    const ca = [(oa.box[0] + oa.box[2]) / 2, (oa.box[1] + oa.box[3]) / 2];
    const cb = [(ob.box[0] + ob.box[2]) / 2, (ob.box[1] + ob.box[3]) / 2];
    const line = svg("line", { class: "rel", x1: ca[0], y1: ca[1], x2: cb[0], y2: cb[1], "data-rel": s + " " + p + " " + t });
    overlay.append(line);
    const text = svg("text", { class: "label", x: (ca[0] + cb[0]) / 2, y: (ca[1] + cb[1]) / 2 });
    text.textContent = p;
    overlay.append(text);
  }
  if (hl.answerBox && k === 0) drawBox(overlay, hl.answerBox, "ans", null, "answer");
}

function answerBox(sample) {
  const v = sample.av;
  if (sample.at === "box" && Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === "number")) return v;
  return null;
}

// The objects a question is about: the provenance's objects; for questions that store none
// (counting, comparisons of counts) the object sets the program selected last, i.e. step
// outputs of object references that no later step narrows down further.
function selectedObjects(sample) {
  const refs = sample.prog.map((step) => refsIn(step[3]));
  const out = new Set();
  sample.prog.forEach((step, n) => {
    if (!refs[n].length || step[0] === "scene") return;
    const narrowed = sample.prog.some((later, m) => m > n && later[1].includes(n) && refs[m].length);
    if (!narrowed) refs[n].forEach((r) => out.add(r));
  });
  return [...out];
}

function mentioned(sample) {
  const objects = sample.obj.length ? sample.obj : selectedObjects(sample);
  return { objects, relations: sample.rel, answerBox: answerBox(sample) };
}

async function graphsOf(sample) {
  return Promise.all(sample.g.map(getGraph));
}

function figures(sample, graphs, hl) {
  const figs = el("div", { class: "figs" });
  sample.img.forEach((url, k) => figs.append(figure(graphs[k], url, k, hl)));
  return figs;
}

function questionText(sample) {
  let text = sample.q;
  if (sample.f === "mc" && sample.o && !sample.o.every((o, i) => text.includes(String.fromCharCode(65 + i) + ". " + o))) {
    text += "\n" + sample.o.map((o, i) => String.fromCharCode(65 + i) + ". " + o).join("\n");
  }
  return text;
}

function badges(sample) {
  const b = el("div", { class: "badges" });
  for (const [k, v] of [["family", sample.fam], ["template", sample.tpl], ["form", sample.f], ["source", sample.src]]) {
    if (v) b.append(el("span", { title: k, "data-facet": k }, v));
  }
  return b;
}

function card(sample, graphs) {
  const c = el("div", { class: "card", "data-index": String(sample.i), "data-id": sample.id });
  c.append(figures(sample, graphs, mentioned(sample)));
  c.append(el("div", { class: "q" }, questionText(sample)));
  c.append(el("div", { class: "a" }, sample.a));
  c.append(badges(sample));
  c.addEventListener("click", () => openDetail(sample.i));
  return c;
}

let renderToken = 0;
async function renderGrid() {
  const token = ++renderToken;
  const m = matches();
  const pages = Math.max(1, Math.ceil(m.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const ids = m.slice(state.page * PAGE, (state.page + 1) * PAGE);
  const samples = await Promise.all(ids.map(getSample));
  const graphs = await Promise.all(samples.map(graphsOf));
  if (token !== renderToken) return;
  const grid = document.getElementById("grid");
  grid.replaceChildren(...samples.map((s, k) => card(s, graphs[k])));
  grid.setAttribute("data-matches", String(m.length));
  document.getElementById("page-info").textContent =
    "page " + (state.page + 1) + " of " + pages + " · " + m.length + " of " + META.samples + " samples";
  document.body.setAttribute("data-ready", String(token));
}

// -- one sample in detail: each form, the program step by step, masks, the scene graph ------
async function openDetail(i) {
  const sample = await getSample(i);
  const graphs = await graphsOf(sample);
  const body = document.getElementById("detail-body");
  const base = mentioned(sample);
  const figs = figures(sample, graphs, base);
  body.replaceChildren(el("h2", {}, sample.gen + " · " + (sample.tpl || "")), badges(sample), figs);

  const siblings = [];
  const group = INDEX.group[i];
  for (let j = 0; j < META.samples; j++) if (INDEX.group[j] === group) siblings.push(j);
  const forms = el("table", { id: "forms" }, el("tr", {}, el("th", {}, "form"), el("th", {}, "question"), el("th", {}, "answer")));
  for (const s of await Promise.all(siblings.map(getSample))) {
    forms.append(el("tr", { "data-form": s.f }, el("td", {}, s.f), el("td", {}, el("pre", {}, questionText(s))), el("td", {}, s.a)));
  }
  body.append(el("h3", {}, "The question in each form"), forms);

  const steps = el("table", { id: "program" }, el("tr", {}, el("th", {}, "#"), el("th", {}, "op"), el("th", {}, "inputs"), el("th", {}, "args"), el("th", {}, "output")));
  sample.prog.forEach(([op, inputs, args, output], n) => {
    const row = el("tr", { class: "step", "data-step": String(n) },
      el("td", {}, String(n)), el("td", {}, op), el("td", {}, inputs.join(", ")),
      el("td", {}, el("pre", {}, Object.keys(args).length ? JSON.stringify(args) : "")),
      el("td", {}, el("pre", {}, fmt(output))));
    row.addEventListener("click", () => {
      steps.querySelectorAll("tr.step").forEach((r) => r.classList.toggle("on", r === row));
      const hl = { objects: refsIn(output), relations: [], cls: "step" };
      figs.querySelectorAll(".fig").forEach((fig) => {
        const k = Number(fig.getAttribute("data-image"));
        if (graphs[k]) drawOverlay(fig.querySelector("svg.overlay"), graphs[k], k, hl);
      });
    });
    steps.append(row);
  });
  body.append(el("h3", {}, "Program (click a step to see its output on the image)"), steps);

  const tools = el("p", {});
  tools.append(el("button", { id: "show-mentioned", onclick: () => figs.querySelectorAll(".fig").forEach((fig) => {
    const k = Number(fig.getAttribute("data-image"));
    if (graphs[k]) drawOverlay(fig.querySelector("svg.overlay"), graphs[k], k, base);
  }) }, "question's objects"));
  tools.append(" ", el("button", { id: "show-masks", onclick: () => drawMasks(figs, graphs, sample) }, "masks"));
  graphs.forEach((g, k) => {
    if (g) tools.append(" ", el("button", { class: "show-graph", onclick: () => showGraph(g, sample.img[k]) }, "scene graph of image " + (k + 1)));
  });
  body.append(tools);
  body.append(el("p", {}, "id " + sample.id + " · images " + sample.ids.join(", ")));
  document.getElementById("detail").hidden = false;
  document.body.setAttribute("data-detail", String(i));
}

// COCO compressed RLE (pycocotools rleFrString), column-major counts.
function rleCounts(counts) {
  if (Array.isArray(counts)) return counts;
  const out = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = counts.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (out.length > 2) x += out[out.length - 2];
    out.push(x);
  }
  return out;
}

function drawMasks(figs, graphs, sample) {
  figs.querySelectorAll(".fig").forEach((fig) => {
    const k = Number(fig.getAttribute("data-image"));
    const graph = graphs[k];
    if (!graph) return;
    fig.querySelectorAll("canvas.mask").forEach((c) => c.remove());
    const canvas = el("canvas", { class: "mask", width: String(graph.w), height: String(graph.h) });
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(graph.w, graph.h);
    const byId = objectIndex(graph);
    let drawn = 0;
    mentioned(sample).objects.map(parseRef).filter((r) => r.image === k).forEach((r, n) => {
      const o = byId[r.id];
      if (!o || !o.mask) return;
      const [h, w] = o.mask.size;
      if (h !== graph.h || w !== graph.w) return;
      const colour = [[255, 45, 85], [41, 121, 255], [0, 200, 83], [255, 204, 0]][n % 4];
      let pos = 0, on = false;
      for (const run of rleCounts(o.mask.counts)) {
        if (on) for (let q = pos; q < pos + run; q++) {
          const y = q % h, x = Math.floor(q / h);
          const at = 4 * (y * graph.w + x);
          image.data.set([...colour, 255], at);
        }
        pos += run; on = !on;
      }
      drawn++;
    });
    ctx.putImageData(image, 0, 0);
    canvas.setAttribute("data-masks", String(drawn));
    fig.append(canvas);
  });
}

// Objects as nodes at their box centres, relations as arrows: the scene as the generators see it.
function showGraph(graph, url) {
  const body = document.getElementById("detail-body");
  const view = el("div", { class: "graph", id: "graph-view" });
  view.append(el("h3", {}, "Scene graph of " + graph.id + " (" + graph.objects.length + " objects, " + graph.relations.length + " relations)"));
  view.append(figure(graph, url, 0, { objects: graph.objects.map((o) => "0:" + o.id), relations: [], cls: "all" }));
  const pad = 20;
  const g = svg("svg", { class: "graph", viewBox: -pad + " " + -pad + " " + (graph.w + 2 * pad) + " " + (graph.h + 2 * pad) });
  const pos = {};
  let unboxed = 0;
  for (const o of graph.objects) {
    pos[o.id] = o.box ? [(o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2] : [pad + 40 * unboxed++, graph.h];
  }
  for (const [s, p, t] of graph.relations) {
    if (!pos[s] || !pos[t]) continue;
    g.append(svg("line", { class: "edge", x1: pos[s][0], y1: pos[s][1], x2: pos[t][0], y2: pos[t][1] }));
    const label = svg("text", { class: "edge-label", x: (pos[s][0] + pos[t][0]) / 2, y: (pos[s][1] + pos[t][1]) / 2 });
    label.textContent = p;
    g.append(label);
  }
  for (const o of graph.objects) {
    const node = svg("g", { class: "node", "data-obj": o.id });
    node.append(svg("circle", { cx: pos[o.id][0], cy: pos[o.id][1], r: 5 }));
    const text = svg("text", { x: pos[o.id][0] + 7, y: pos[o.id][1] - 4 });
    text.textContent = o.id + " " + [...o.attrs, o.name].join(" ");
    node.append(text);
    g.append(node);
  }
  view.append(g);
  const rels = el("table", { id: "relations" }, el("tr", {}, el("th", {}, "subject"), el("th", {}, "predicate"), el("th", {}, "object"), el("th", {}, "category"), el("th", {}, "source")));
  const byId = objectIndex(graph);
  const name = (id) => id + " (" + (byId[id] ? byId[id].name : "?") + ")";
  for (const [s, p, t, cat, src] of graph.relations) rels.append(el("tr", {}, el("td", {}, name(s)), el("td", {}, p), el("td", {}, name(t)), el("td", {}, cat), el("td", {}, src)));
  view.append(rels);
  const old = document.getElementById("graph-view");
  if (old) old.remove();
  body.append(view);
  view.scrollIntoView();
}

// -- failures --------------------------------------------------------------------------------
async function renderFailures() {
  if (!state.fmatches) {
    state.fmatches = [];
    for (let i = 0; i < META.failures; i++) if (state.freason < 0 || INDEX.failure_reason[i] === state.freason) state.fmatches.push(i);
  }
  const m = state.fmatches;
  const pages = Math.max(1, Math.ceil(m.length / FAILURE_PAGE));
  state.fpage = Math.min(state.fpage, pages - 1);
  const ids = m.slice(state.fpage * FAILURE_PAGE, (state.fpage + 1) * FAILURE_PAGE);
  const per = META.failures_per_chunk;
  const rows = await Promise.all(ids.map(async (i) => (await load("failures", Math.floor(i / per)))[i % per]));
  const tbody = document.querySelector("#failures tbody");
  tbody.replaceChildren(...rows.map((f) => el("tr", { "data-reason": f.reason },
    el("td", {}, f.stage || ""), el("td", {}, String(f.record_id ?? "")), el("td", {}, f.reason || ""),
    el("td", {}, el("pre", {}, [f.error, f.file && "file " + f.file, f.field && "field " + f.field].filter(Boolean).join("\n")),
      f.traceback ? el("details", {}, el("summary", {}, "traceback"), el("pre", {}, f.traceback)) : null))));
  document.getElementById("fpage-info").textContent = "page " + (state.fpage + 1) + " of " + pages + " · " + m.length + " of " + META.failures + " failures";
}

// -- start -----------------------------------------------------------------------------------
function start() {
  document.getElementById("title").textContent = "scenesynth · " + META.title;
  document.title = "scenesynth · " + META.title;
  document.getElementById("summary").textContent =
    META.samples + " samples · " + META.graphs + " images · " + META.failures + " failures";
  buildFilters();
  document.getElementById("prev").addEventListener("click", () => { if (state.page > 0) { state.page--; renderGrid(); } });
  document.getElementById("next").addEventListener("click", () => { state.page++; renderGrid(); });
  document.getElementById("fprev").addEventListener("click", () => { if (state.fpage > 0) { state.fpage--; renderFailures(); } });
  document.getElementById("fnext").addEventListener("click", () => { state.fpage++; renderFailures(); });
  document.getElementById("detail-close").addEventListener("click", () => { document.getElementById("detail").hidden = true; });
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    const failures = tab.getAttribute("data-tab") === "failures";
    document.getElementById("samples-view").hidden = failures;
    document.getElementById("failures-view").hidden = !failures;
    if (failures) renderFailures();
  }));
  renderGrid();
}
start();
