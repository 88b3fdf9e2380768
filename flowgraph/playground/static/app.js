// flowgraph playground: the page is a view; training runs in the Python process.
// One session per tab (POST /api/session), long-polled pictures (GET /api/s/ID/frame?after=V),
// the settings in the URL's query string so that a link reproduces a setting. In a notebook,
// the widget (widget.js) runs this same script with its own host: requests travel as the
// widget's messages to the same Python answers, and the page lives in the widget's element.
"use strict";

/* global FLOWGRAPH_HOST */
const host = typeof FLOWGRAPH_HOST !== "undefined" ? FLOWGRAPH_HOST : {
  root: document,  // where the page's elements are
  fetch: (path, opts) => fetch(path, opts),
  query: location.search,  // the settings a link asks for
  setQuery: (q) => history.replaceState(null, "", location.pathname + (q ? "?" + q : "")),
  keys: document,  // what the space bar (play / pause) is listened on
  close: (id) => navigator.sendBeacon(`/api/s/${id}/close`),
};

const COLORS = [[230, 159, 0], [0, 114, 178], [0, 158, 115]];  // Okabe-Ito orange, blue, green
const DATASETS = {
  classification: ["moons", "circles", "spirals", "xor", "blobs"],
  regression: ["plane", "bumps", "saddle", "waves"],
};
const FEATURES = [["x1", "x₁"], ["x2", "x₂"], ["x1sq", "x₁²"], ["x2sq", "x₂²"],
  ["x1x2", "x₁x₂"], ["sinx1", "sin(πx₁)"], ["sinx2", "sin(πx₂)"]];
const FIELDS = ["problem", "dataset", "n", "noise", "ratio", "hidden", "activation", "init",
  "l2", "l1", "dropout", "lr", "momentum", "batch", "schedule", "decay", "seed", "speed"];

const $ = (id) => host.root.querySelector("#" + id);
function setText(id, text) {  // a change of text makes the browser lay the page out again
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}
const state = {
  id: null, v: -1, settings: null, meta: null, frame: null, svgV: -1, clickClass: 0,
  frames: 0, detailAt: 0, drawMs: 0,
};
window.__fg = state;  // for tests and benchmarks: counters, the current settings
host.state = state;  // a widget closes its session when its view goes

// -- talking to the server ------------------------------------------------------------------
async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const r = await host.fetch(path, opts);
  let j = null;
  try { j = await r.json(); } catch (e) { j = { error: `the server answered ${r.status}` }; }
  if (!r.ok) {
    const err = new Error(j && j.error ? j.error : `the server answered ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return j;
}

function showMessage(text, kind) {
  const m = $("message");
  if (!text) { m.hidden = true; return; }
  m.textContent = text;
  m.className = kind || "";
  m.hidden = false;
}

function queryToSettings(search) {
  const p = new URLSearchParams(search);
  const s = {};
  for (const [k, v] of p) s[k] = v;
  return s;
}

function applyDescription(d) {
  state.id = d.id;
  state.v = -1;
  state.settings = d.settings;
  state.meta = d.meta;
  state.upload = d.upload || state.upload;
  host.setQuery(d.query);
  fillForm(d.settings);
  buildDiagram();
  drawFrame(d.frame);
}

async function startSession(settings) {
  try {
    applyDescription(await api("/api/session", { settings }));
    return true;
  } catch (e) {
    showMessage(e.message);
    if (e.status === 400 && Object.keys(settings).length) {
      applyDescription(await api("/api/session", { settings: {} }));  // defaults instead
      showMessage(`${e.message} — showing the default setting instead`);
    }
    return false;
  }
}

// the flow graph costs the server a `dot` run per picture: ask for it only while its panel is
// on screen in a visible tab
let graphOnScreen = true;
new IntersectionObserver((entries) => {
  graphOnScreen = entries[entries.length - 1].isIntersecting;
}).observe($("graph-panel"));
const framePath = (id, after) =>
  `/api/s/${id}/frame?after=${after}&graph=${graphOnScreen && !document.hidden ? 1 : 0}`;

async function pollLoop() {
  // the next request leaves before this picture is drawn, so that the server's next picture
  // and the page's drawing overlap
  let pending = null;
  for (;;) {
    if (host.stopped) return;  // a widget's view was removed
    if (!state.id) { await sleep(300); continue; }
    const id = state.id;
    try {
      const f = await (pending || api(framePath(id, state.v)));
      pending = null;
      if (id !== state.id) continue;
      pending = api(framePath(id, Math.max(f.v, state.v)));
      pending.catch(() => {});  // handled when awaited
      drawFrame(f);
    } catch (e) {
      pending = null;
      if (e.status === 404 && id === state.id) {  // the server forgot us (slept, restarted)
        showMessage("the training session had stopped; started it again", "info");
        state.id = null;
        await startSession(state.settings || {});
      } else {
        await sleep(700);
      }
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function control(action) {
  if (!state.id) return;
  try {
    if (action === "check") {
      $("check").disabled = true;
      const r = await api(`/api/s/${state.id}/control`, { action });
      $("check").disabled = false;
      showCheck(r);
      return;
    }
    drawFrame(await api(`/api/s/${state.id}/control`, { action }));
    showMessage("");
  } catch (e) {
    $("check").disabled = false;
    showMessage(e.message);
  }
}

async function sendSettings(settings) {
  try {
    const d = await api(`/api/s/${state.id}/settings`, { settings });
    host.root.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    showMessage("");
    applyDescription(d);
  } catch (e) {
    showMessage(e.message);
    markInvalid(e.message);
  }
}

function markInvalid(text) {
  for (const name of FIELDS) {
    const el = host.root.querySelector(`[name=${name}]`);
    if (!el) continue;
    const words = { n: "n (", lr: "learning rate", l2: "l2", l1: "l1", batch: "batch size",
      hidden: "hidden", ratio: "ratio", momentum: "momentum", decay: "decay", seed: "seed",
      noise: "noise", dropout: "dropout" }[name];
    if (words && text.startsWith(words)) el.classList.add("invalid");
  }
}

// -- the form -------------------------------------------------------------------------------
function fillForm(s) {
  const ds = $("dataset");
  ds.innerHTML = "";
  for (const name of DATASETS[s.problem]) ds.add(new Option(name, name));
  if (s.problem === "classification" && state.upload && state.upload.rows) {
    ds.add(new Option(`upload (${state.upload.rows} points)`, "upload"));
  }
  for (const name of FIELDS) {
    const el = host.root.querySelector(`[name=${name}]`);
    let v = s[name];
    if (name === "hidden") v = v.length ? v.join(",") : "0";
    if (el) el.value = String(v);
  }
  const box = $("features");
  box.innerHTML = "";
  for (const [id, label] of FEATURES) {
    const l = document.createElement("label");
    const c = document.createElement("input");
    c.type = "checkbox";
    c.value = id;
    c.checked = s.features.includes(id);
    l.className = c.checked ? "on" : "";
    l.append(c, label);
    c.addEventListener("change", () => changed());
    box.append(l);
  }
  const picks = $("click-classes");
  picks.innerHTML = "";
  const classes = s.problem === "classification" && state.meta ? state.meta.classes : 2;
  if (state.clickClass >= classes) state.clickClass = 0;
  const span = document.createElement("span");
  span.className = "classpick";
  for (let k = 0; k < classes; k++) {
    const b = document.createElement("button");
    b.style.background = `rgb(${COLORS[k].join(",")})`;
    b.title = s.problem === "classification" ? `class ${k}` : (k ? "target +1" : "target −1");
    b.className = k === state.clickClass ? "on" : "";
    b.addEventListener("click", () => { state.clickClass = k; fillForm(state.settings); });
    span.append(b);
  }
  picks.append(span);
  if (s.problem === "regression") picks.append(" (target −1 or +1)");
}

function formSettings() {
  const s = {};
  for (const name of FIELDS) {
    const el = host.root.querySelector(`[name=${name}]`);
    if (el) s[name] = el.value.trim();
  }
  s.features = [...host.root.querySelectorAll("#features input:checked")].map((c) => c.value);
  s.points = state.settings ? state.settings.points : [];
  return s;
}

function changed(el) {
  const s = formSettings();
  if (el && (el.name === "problem" || el.name === "dataset")) {
    s.points = [];  // clicked points belong to one data set
    if (el.name === "problem") s.dataset = DATASETS[s.problem][0];
  }
  sendSettings(s);
}

function bindForm() {
  for (const name of FIELDS) {
    const el = host.root.querySelector(`[name=${name}]`);
    if (el) el.addEventListener("change", () => changed(el));
  }
  $("play").addEventListener("click", () => control(state.frame && state.frame.playing ? "pause" : "play"));
  for (const a of ["reset", "step", "epoch", "check"]) $(a).addEventListener("click", () => control(a));
  $("add-layer").addEventListener("click", () => editLayers((h) => h.length < 6 && h.push(h.length ? h[h.length - 1] : 4)));
  $("remove-layer").addEventListener("click", () => editLayers((h) => h.pop()));
  $("clear-points").addEventListener("click", () => {
    const s = formSettings();
    s.points = [];
    sendSettings(s);
  });
  $("regions").addEventListener("click", addPoint);
  $("fit").addEventListener("click", () => {
    const fit = $("graph").classList.toggle("fit");
    $("fit").textContent = fit ? "actual size" : "fit to width";
  });
  $("upload").addEventListener("change", uploadFile);
  host.keys.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); $("play").click(); }
  });
  window.addEventListener("pagehide", () => {
    if (state.id) host.close(state.id);
  });
}

function editLayers(fn) {
  const h = state.settings.hidden.slice();
  fn(h);
  const s = formSettings();
  s.hidden = h.length ? h.join(",") : "0";
  sendSettings(s);
}

function editWidth(k, delta) {
  const h = state.settings.hidden.slice();
  h[k] = Math.max(1, Math.min(16, h[k] + delta));
  const s = formSettings();
  s.hidden = h.join(",");
  sendSettings(s);
}

async function uploadFile() {  // the tab's own points: a CSV of x1, x2, label
  const input = $("upload");
  const file = input.files[0];
  if (!file || !state.id) return;
  try {
    if (file.size > 1000000) throw new Error(`${file.name} has ${file.size} bytes; the ` +
      "playground takes a CSV of at most 1,000,000 bytes (5,000 points)");
    applyDescription(await api(`/api/s/${state.id}/upload`, { csv: await file.text() }));
    showMessage(`${file.name}: ${state.upload.rows} points of ${state.upload.classes.length} ` +
      `classes (${state.upload.classes.join(", ")})`, "info");
  } catch (e) { showMessage(e.message); }
  input.value = "";  // the same file again is a change too
}

async function addPoint(ev) {
  const c = $("regions");
  const r = c.getBoundingClientRect();
  const D = state.meta.domain;
  const x1 = ((ev.clientX - r.left) / r.width) * 2 * D - D;
  const x2 = D - ((ev.clientY - r.top) / r.height) * 2 * D;
  const label = state.settings.problem === "classification" ? state.clickClass : (state.clickClass ? 1 : -1);
  try {
    const d = await api(`/api/s/${state.id}/point`, { x1: +x1.toFixed(4), x2: +x2.toFixed(4), label });
    applyDescription(d);
    showMessage("");
  } catch (e) { showMessage(e.message); }
}

// -- drawing --------------------------------------------------------------------------------
function decode(b64) {
  const s = atob(b64);
  const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

// a value in [-1, 1] (as a byte 0..255) -> orange .. white .. blue, through a table
const LUT = new Uint8ClampedArray(256 * 3);
for (let byte = 0; byte < 256; byte++) {
  const t = byte / 127.5 - 1;
  const c = t < 0 ? COLORS[0] : COLORS[1];
  const a = Math.min(1, Math.abs(t));
  for (let ch = 0; ch < 3; ch++) LUT[3 * byte + ch] = 255 + (c[ch] - 255) * a;
}
function diverging(byte) { return [LUT[3 * byte], LUT[3 * byte + 1], LUT[3 * byte + 2]]; }

// the regions canvas is the 64 x 64 grid itself, scaled up by the browser (CSS); the points
// and axes sit on a second canvas above it, redrawn only when the data change
let pointsDrawnFor = null;
function drawRegions(f) {
  const m = state.meta;
  const G = m.grid;
  const bytes = decode(f.regions);
  const c = $("regions");
  if (c.width !== G) { c.width = G; c.height = G; }
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(G, G);
  const d = img.data;
  const C = m.problem === "classification" ? m.classes : 1;
  for (let i = 0; i < G * G; i++) {
    if (C === 1) {
      const q = 3 * bytes[i];
      d[4 * i] = LUT[q]; d[4 * i + 1] = LUT[q + 1]; d[4 * i + 2] = LUT[q + 2];
    } else {  // the class colours mixed by probability, paler where the network is unsure
      let r = 0, g = 0, b = 0, top = 0;
      for (let k = 0; k < C; k++) {
        const p = bytes[k * G * G + i] / 255;
        r += p * COLORS[k][0]; g += p * COLORS[k][1]; b += p * COLORS[k][2];
        top = Math.max(top, p);
      }
      const a = 0.25 + 0.6 * (top - 1 / C) / (1 - 1 / C);
      d[4 * i] = 255 + (r - 255) * a; d[4 * i + 1] = 255 + (g - 255) * a;
      d[4 * i + 2] = 255 + (b - 255) * a;
    }
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  if (pointsDrawnFor !== m) drawPoints(m);
}

function drawPoints(m) {
  pointsDrawnFor = m;
  const c = $("points");
  const ratio = window.devicePixelRatio || 1;
  const W = c.clientWidth || 420, H = c.clientHeight || 420;
  c.width = Math.round(W * ratio); c.height = Math.round(H * ratio);
  const ctx = c.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = "rgba(0,0,0,0.12)";  // axes through the origin
  ctx.beginPath();
  ctx.moveTo(W / 2, 0); ctx.lineTo(W / 2, H);
  ctx.moveTo(0, H / 2); ctx.lineTo(W, H / 2);
  ctx.stroke();
  const C = m.problem === "classification" ? m.classes : 1;
  const D = m.domain;
  const px = (x) => ((x + D) / (2 * D)) * W;
  const py = (y) => ((D - y) / (2 * D)) * H;
  const dot = (p, test) => {
    const color = C === 1 ? diverging(Math.round((Math.max(-1, Math.min(1, p[2])) + 1) * 127.5))
      : COLORS[p[2]];
    ctx.beginPath();
    ctx.arc(px(p[0]), py(p[1]), test ? 3.6 : 4, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${color.map(Math.round).join(",")})`;
    ctx.fill();
    ctx.lineWidth = test ? 1.4 : 1.1;
    ctx.strokeStyle = test ? "#1d2733" : C === 1 ? "#98a2b3" : "white";
    ctx.stroke();
  };
  for (const p of m.train) dot(p, false);
  for (const p of m.test) dot(p, true);
}

function fmt(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  if (Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(2);
  return v.toFixed(digits);
}

function drawCurves(f) {
  const c = $("curves");
  const ctx = c.getContext("2d");
  const W = c.width, H = c.height;
  ctx.clearRect(0, 0, W, H);
  const cv = f.curves;
  const n = cv.epoch.length;
  const pad = { l: 40, r: 10, t: 10, b: 22 };
  const series = [["tr_loss", "#0072B2", [], "training loss"], ["te_loss", "#0072B2", [5, 4], "test loss"]];
  if (state.meta.problem === "classification") {
    series.push(["tr_err", "#D55E00", [], "training error"], ["te_err", "#D55E00", [5, 4], "test error"]);
  }
  let ymax = 0;
  for (const [k] of series) for (const v of cv[k]) if (v !== null && isFinite(v)) ymax = Math.max(ymax, v);
  ymax = ymax > 0 ? Math.min(ymax * 1.05, 5) : 1;
  const xmax = Math.max(cv.epoch[n - 1] || 0, 1e-9);
  const X = (e) => pad.l + (e / xmax) * (W - pad.l - pad.r);
  const Y = (v) => H - pad.b - (Math.min(v, ymax) / ymax) * (H - pad.t - pad.b);
  ctx.strokeStyle = "#e3e7ee"; ctx.fillStyle = "#667085"; ctx.font = "10px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, Y(v)); ctx.lineTo(W - pad.r, Y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(2), 4, Y(v) + 3);
  }
  ctx.fillText(`epoch ${fmt(xmax, 1)}`, W - pad.r - 60, H - 6);
  ctx.fillText("0", pad.l, H - 6);
  for (const [k, color, dash] of series) {
    ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.lineWidth = 1.6;
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < n; i++) {
      const v = cv[k][i];
      if (v === null || !isFinite(v)) continue;
      if (!started) { ctx.moveTo(X(cv.epoch[i]), Y(v)); started = true; } else ctx.lineTo(X(cv.epoch[i]), Y(v));
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
  let lx = pad.l + 6;
  for (const [, color, dash, label] of series) {
    ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.beginPath();
    ctx.moveTo(lx, pad.t + 4); ctx.lineTo(lx + 16, pad.t + 4); ctx.stroke();
    ctx.fillStyle = "#475467"; ctx.fillText(label, lx + 20, pad.t + 7);
    lx += 26 + ctx.measureText(label).width;
  }
  ctx.setLineDash([]);
}

// the network diagram: one column per layer, a thumbnail per unit, edges by weight
function buildDiagram() {
  const m = state.meta;
  const cols = $("columns");
  cols.innerHTML = "";
  const L = m.sizes.length;
  $("net-title").textContent = m.sizes.join(" → ");
  const most = Math.max(...m.sizes.slice(0, L - 1));  // tall layers get smaller thumbnails
  cols.style.setProperty("--unit", `${most > 12 ? 24 : most > 8 ? 30 : 40}px`);
  cols.style.setProperty("--gap", `${most > 12 ? 5 : 8}px`);
  for (let k = 0; k < L; k++) {
    const col = document.createElement("div");
    col.className = "col" + (k === 0 ? " features" : "");
    const title = document.createElement("div");
    title.className = "title";
    if (k === 0) title.textContent = "features φ(x)";
    else if (k === L - 1) title.textContent = m.problem === "classification" ? "output f(x)" : "output f(x)";
    else {
      title.innerHTML = `h<sub>${k}</sub>: ${m.sizes[k]} units`;
      const ctl = document.createElement("div");
      ctl.className = "widthctl";
      for (const [txt, d] of [["−", -1], ["+", 1]]) {
        const b = document.createElement("button");
        b.textContent = txt;
        b.title = d > 0 ? "one unit more" : "one unit fewer";
        b.addEventListener("click", () => editWidth(k - 1, d));
        ctl.append(b);
      }
      title.append(ctl);
    }
    col.append(title);
    const n = k === L - 1 ? 1 : m.sizes[k];
    for (let i = 0; i < n; i++) {
      const u = document.createElement("div");
      u.className = "unit";
      const cv = document.createElement("canvas");
      cv.width = m.thumb; cv.height = m.thumb;
      cv.id = `unit-${k}-${i}`;
      cv.title = k === 0 ? `feature ${m.features[i]}` : k === L - 1 ? "the output f(x)"
        : `unit ${i + 1} of h${k}: h${k},${i + 1}(x) = g(a${k},${i + 1}(x)) over the plane`;
      u.append(cv);
      if (k === 0) {
        const tag = document.createElement("span");
        tag.className = "tag"; tag.textContent = m.features[i];
        u.append(tag);
      }
      col.append(u);
    }
    cols.append(col);
  }
  drawFeatureThumbs();
  requestAnimationFrame(() => layoutEdges());
}

function drawFeatureThumbs() {
  const m = state.meta;
  const T = m.thumb, D = m.domain;
  const fns = {
    x1: (a) => a, x2: (a, b) => b, x1sq: (a) => a * a, x2sq: (a, b) => b * b, x1x2: (a, b) => a * b,
    sinx1: (a) => Math.sin(Math.PI * a), sinx2: (a, b) => Math.sin(Math.PI * b),
  };
  m.feature_ids.forEach((id, i) => {
    const vals = [];
    let top = 0;
    for (let r = 0; r < T; r++) for (let c = 0; c < T; c++) {
      const a = -D + (2 * D * (c + 0.5)) / T, b = D - (2 * D * (r + 0.5)) / T;
      const v = fns[id](a, b); vals.push(v); top = Math.max(top, Math.abs(v));
    }
    paintThumb($(`unit-0-${i}`), vals.map((v) => Math.round((v / (top || 1) + 1) * 127.5)));
  });
}

function paintThumb(cv, bytes, offset = 0) {
  const T = cv.width;
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(T, T);
  const d = img.data;
  for (let i = 0; i < T * T; i++) {
    const q = 3 * bytes[offset + i];
    d[4 * i] = LUT[q]; d[4 * i + 1] = LUT[q + 1]; d[4 * i + 2] = LUT[q + 2]; d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// the edges live on one canvas under the thumbnails: redrawing ~300 curves there costs far
// less than restyling as many SVG elements for every picture
let edges = [];  // per layer k: rows i of [j, x1, y1, x2, y2]
function layoutEdges() {
  const m = state.meta;
  const cv = $("edges");
  const diagram = $("netdiagram");
  const box = diagram.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  cv.width = Math.round(diagram.scrollWidth * ratio);
  cv.height = Math.round(box.height * ratio);
  cv.style.width = diagram.scrollWidth + "px";
  cv.style.height = box.height + "px";
  edges = [];
  const L = m.sizes.length;
  const pos = (k, i) => {
    const el = $(`unit-${k}-${i}`);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return [r.left - box.left + diagram.scrollLeft, r.top - box.top + r.height / 2, r.width];
  };
  for (let k = 1; k < L; k++) {
    const layer = [];
    const nOut = k === L - 1 ? 1 : m.sizes[k];
    const rows = k === L - 1 && m.classes === 2 ? 1 : m.sizes[k];  // two classes: one logit gap
    for (let i = 0; i < rows; i++) {
      const row = [];
      for (let j = 0; j < m.sizes[k - 1]; j++) {
        const a = pos(k - 1, j), b = pos(k, Math.min(i, nOut - 1));
        if (a && b) row.push([j, a[0] + a[2], a[1], b[0], b[1]]);
      }
      layer.push(row);
    }
    edges.push(layer);
  }
  if (state.frame) drawWeights(state.frame);
}

function drawWeights(f) {
  const cv = $("edges");
  const ctx = cv.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cv.width, cv.height);
  f.weights.forEach((W, k) => {
    if (!edges[k]) return;
    if (k === f.weights.length - 1 && state.meta.classes === 2) {
      W = [W[1].map((w, j) => w - W[0][j])];  // a2 - a1 decides the class
    }
    let top = 0;
    for (const row of W) for (const w of row) top = Math.max(top, Math.abs(w));
    edges[k].forEach((row, i) => {
      for (const [j, x1, y1, x2, y2] of row) {
        const w = W[i] ? W[i][j] : 0;
        const c = w < 0 ? COLORS[0] : COLORS[1];
        const a = top > 0 ? Math.abs(w) / top : 0;
        ctx.strokeStyle = `rgba(${c[0]},${c[1]},${c[2]},${(0.15 + 0.75 * a).toFixed(3)})`;
        ctx.lineWidth = 0.4 + 4.2 * a;
        const mx = (x1 + x2) / 2;
        ctx.beginPath();
        ctx.moveTo(x1, y1);
        ctx.bezierCurveTo(mx, y1, mx, y2, x2, y2);
        ctx.stroke();
      }
    });
  });
}

function drawUnits(f) {
  const m = state.meta;
  const T = m.thumb;
  f.units.forEach((b64, k) => {
    const bytes = decode(b64);
    for (let i = 0; i < m.sizes[k + 1]; i++) {
      const cv = $(`unit-${k + 1}-${i}`);
      if (cv) paintThumb(cv, bytes, i * T * T);
    }
  });
  // the output unit: the regions, small
  const out = $(`unit-${m.sizes.length - 1}-0`);
  if (out) out.getContext("2d").drawImage($("regions"), 0, 0, T, T);
}

function drawFrame(f) {
  if (!f || !state.meta) return;
  if (f.v <= state.v) return;  // an older picture overtaken by a newer one
  if (document.hidden) { state.hiddenFrame = f; return; }  // nobody sees it: draw on return
  const t0 = performance.now();
  state.v = f.v;
  state.frame = f;
  state.frames += 1;
  setText("stepno", String(f.step));
  setText("epochno", f.epoch.toFixed(1));
  setText("alpha", fmt(f.lr, 4));
  const play = $("play");
  setText("play", f.playing ? "❚❚" : "▶");
  play.classList.toggle("playing", f.playing);
  const mm = f.metrics;
  setText("tr-loss", fmt(mm.tr_loss));
  setText("te-loss", fmt(mm.te_loss));
  const isCls = state.meta.problem === "classification";
  host.root.querySelectorAll(".metrics .err").forEach((el) => { el.style.visibility = isCls ? "visible" : "hidden"; });
  setText("tr-err", mm.tr_err === null ? "–" : (100 * mm.tr_err).toFixed(1) + "%");
  setText("te-err", mm.te_err === null ? "–" : (100 * mm.te_err).toFixed(1) + "%");
  if (f.message) showMessage(f.message);
  drawRegions(f);
  // the regions and the numbers follow every picture; the curves, the units' thumbnails and
  // the edges (together dearer than the regions) at most 10 times a second while playing
  const now = performance.now();
  if (!f.playing || now - state.detailAt > 100) {
    state.detailAt = now;
    drawCurves(f);
    drawUnits(f);
    drawWeights(f);
  }
  const added = state.settings.points.length;
  const rim = state.meta.problem === "classification" ? "white" : "grey";
  setText("points-info", `${state.meta.train.length} training points (${rim} rim, ` +
    `${added} added by clicking), ${state.meta.test.length} test points (dark rim); ` +
    `batch ${state.meta.batch}`);
  $("points-info").dataset.train = state.meta.train.length;
  if (f.svg_note) $("graph").textContent = f.svg_note;
  if (f.svg_v > 0 && f.svg_v !== state.svgV) loadSvg(f.svg_v);
  state.drawMs = performance.now() - t0;
}

async function loadSvg(v) {
  state.svgV = v;
  try {
    const r = await host.fetch(`/api/s/${state.id}/graph.svg?v=${v}`);
    if (!r.ok) return;
    const text = await r.text();
    if (v === state.svgV) setGraph(text);
  } catch (e) { /* the next picture tries again */ }
}

function setGraph(svgText) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return;
  const g = $("graph");
  g.replaceChildren(document.importNode(svg, true));
}

function showCheck(r) {
  $("check-result").hidden = false;
  const pill = $("check-pill");
  pill.className = r.ok ? "ok" : "bad";
  pill.textContent = r.ok ? "check_graph: every gradient agrees with finite differences"
    : "check_graph: a gradient disagrees with finite differences";
  $("check-report").textContent = r.report;
  state.svgV = r.svg_v;
  if (r.svg) setGraph(r.svg);
}

// -- start ----------------------------------------------------------------------------------
bindForm();
window.addEventListener("resize", () => state.meta && layoutEdges());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.hiddenFrame) {
    const f = state.hiddenFrame;
    state.hiddenFrame = null;
    drawFrame(f);
  }
});
startSession(queryToSettings(host.query)).then(() => pollLoop());
