// mmsim web visualizer: plain JavaScript, no library, nothing fetched but this server's API.
"use strict";

const PAGE = 200;            // events per page fetched from the server
const ROW = 18;              // pixel height of one row of the event list
const USE = {f: ["free", "#e8e8e8"], a: ["anon", "#e4572e"], c: ["file", "#29335c"], p: ["page table", "#f3a712"],
             s: ["slab", "#669bbc"], k: ["kernel", "#6b4e71"], o: ["other", "#a8c686"]};
const COLOURS = ["#e4572e", "#29335c", "#f3a712", "#669bbc", "#6b4e71", "#a8c686", "#2a9d8f", "#b5179e"];
const SVGNS = "http://www.w3.org/2000/svg";

const st = {run: null, cur: 0, pages: new Map(), pending: new Map(), snaps: new Map(), timeline: null,
            timer: null, pid: null, va: null, snapSeq: 0, shown: null};

const $ = (id) => document.getElementById(id);
const hex = (v) => "0x" + BigInt(v).toString(16);
function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json();
  if (!r.ok) { const e = new Error(body.error || r.statusText); e.body = body; throw e; }
  return body;
}

// ---- runs ----------------------------------------------------------------------------------
async function loadExamples() {
  const list = await api("/api/examples");
  const sel = $("example-select");
  for (const e of list) sel.appendChild(el("option", {value: e.name, title: e.summary}, e.name));
  // Trace replays given to `mmsim serve --trace`: opened as recorded, never re-run.
  for (const t of await api("/api/traces")) {
    sel.appendChild(el("option", {value: "trace:" + t.id, title: t.source}, `trace: ${t.file} (${t.events} samples)`));
  }
  const want = new URLSearchParams(location.search).get("example");
  if (want) { sel.value = want; startRun("/api/run?example=" + encodeURIComponent(want)); }
}

// Opens the example or trace chosen in the select.
function runChosen() {
  const v = $("example-select").value;
  if (v.startsWith("trace:")) startRun("/api/runs/" + encodeURIComponent(v.slice(6)), null, "GET");
  else startRun("/api/run?example=" + encodeURIComponent(v));
}

async function startRun(path, body, method) {
  stop();
  $("error").hidden = true;
  document.body.dataset.state = "loading";
  try {
    const run = await api(path, method === "GET" ? undefined : {method: "POST", body: body || ""});
    st.run = run; st.cur = 0; st.pages.clear(); st.pending.clear(); st.snaps.clear(); st.timeline = null;
    st.pid = null; st.va = null; $("walk-va").value = "";
    $("run-info").textContent = `${run.file}: ${run.events} events, exit ${run.exitStatus}` + (run.stoppedEarly ? ` (${run.stoppedEarly})` : "");
    if (run.diagnostics) showError(run.diagnostics);
    $("slider").max = Math.max(0, run.events - 1);
    $("jump-input").max = run.events;
    $("event-list-inner").style.height = (run.events * ROW) + "px";
    st.timeline = await api(`/api/runs/${run.id}/timeline?points=600`);
    await go(0);
    document.body.dataset.state = "ready";
  } catch (e) {
    document.body.dataset.state = "error";
    showError(e.body && e.body.rendered ? e.body.rendered : String(e.message || e));
  }
}
function showError(text) { const p = $("error"); p.textContent = text; p.hidden = false; }

// ---- events, fetched in pages ----------------------------------------------------------------
function page(n) {
  if (st.pages.has(n)) return Promise.resolve(st.pages.get(n));
  if (st.pending.has(n)) return st.pending.get(n);
  const run = st.run;
  const p = api(`/api/runs/${run.id}/events?from=${n * PAGE}&count=${PAGE}`).then((r) => {
    if (st.run === run) st.pages.set(n, r.events);
    st.pending.delete(n);
    return r.events;
  });
  st.pending.set(n, p);
  return p;
}
async function event(i) { const p = await page(Math.floor(i / PAGE)); return p[i % PAGE]; }
function eventNow(i) { const p = st.pages.get(Math.floor(i / PAGE)); return p ? p[i % PAGE] : null; }

// Draws only the rows of the event list that are on screen.
function drawList() {
  if (!st.run) return;
  const box = $("event-list"), inner = $("event-list-inner");
  const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 5);
  const last = Math.min(st.run.events - 1, Math.ceil((box.scrollTop + box.clientHeight) / ROW) + 5);
  inner.replaceChildren();
  let missing = false;
  for (let i = first; i <= last; i++) {
    const e = eventNow(i);
    if (!e) { missing = true; continue; }
    const row = el("div", {class: `ev r-${e.result}` + (i === st.cur ? " cur" : ""), "data-index": i,
                           style: `top:${i * ROW}px`}, `${i + 1} ${e.line}: ${e.text}`);
    row.addEventListener("click", () => go(i));
    inner.appendChild(row);
  }
  if (missing) {
    const ps = new Set(); for (let i = first; i <= last; i++) ps.add(Math.floor(i / PAGE));
    Promise.all([...ps].map(page)).then(drawList);
  }
}

// ---- the current event -------------------------------------------------------------------
async function go(i) {
  if (!st.run || st.run.events === 0) { $("event-pos").textContent = "no events"; return; }
  i = Math.max(0, Math.min(st.run.events - 1, i));
  st.cur = i;
  $("slider").value = i; $("jump-input").value = i + 1;
  $("event-pos").textContent = `event ${i + 1} / ${st.run.events}`;
  const box = $("event-list");
  if (i * ROW < box.scrollTop || (i + 1) * ROW > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, i * ROW - box.clientHeight / 2);
  const e = await event(i);
  if (st.cur !== i) return;
  drawNarration(e);
  drawList();
  await drawSnapshot(i);
}

function drawNarration(e) {
  const n = $("narration");
  n.replaceChildren(el("div", {}, `line ${e.line}:${e.column} — ${e.text}  [${e.result}]` + (e.pid ? ` pid ${e.pid}` : "") + ` cpu ${e.cpu}`));
  if (e.narration.length) n.appendChild(el("pre", {class: "explain"}, e.narration.join("\n")));
  const out = e.output.concat(e.kernelLog);
  if (out.length) n.appendChild(el("pre", {class: "output"}, out.join("\n")));
}

async function drawSnapshot(i) {
  const seq = ++st.snapSeq;
  const key = `${i}/${st.pid}/${st.va}`;
  let s = st.snaps.get(key);
  if (!s) {
    const q = new URLSearchParams({event: i});
    if (st.pid !== null) q.set("pid", st.pid);
    if (st.va !== null) q.set("va", st.va);
    s = await api(`/api/runs/${st.run.id}/snapshot?${q}`);
    if (st.snaps.size > 400) st.snaps.clear();
    st.snaps.set(key, s);
  }
  if (seq !== st.snapSeq) return;
  st.shown = s;
  drawProcesses(s); drawWalk(s); drawTLB(s); drawPhys(s); drawFree(s); drawMore(s); drawTimelines();
  document.body.dataset.event = String(i);
}

// ---- views -------------------------------------------------------------------------------
function drawProcesses(s) {
  const sel = $("proc-select");
  const live = s.processes;
  if (st.pid === null || !live.some((p) => p.pid === st.pid)) {
    const first = live.find((p) => p.state === "running") || live[0];
    st.pid = first ? first.pid : null;
  }
  sel.replaceChildren(...live.map((p) => el("option", {value: p.pid}, `${p.name} (${p.pid}, ${p.state}, RSS ${p.rssKB} kB)`)));
  if (st.pid !== null) sel.value = st.pid;
  const p = live.find((x) => x.pid === st.pid);
  const band = $("addr-band"), table = $("vma-table");
  band.replaceChildren(); table.replaceChildren();
  if (!p || !p.vmas.length) { band.textContent = p ? "no address space (the process has exited)" : "no process yet"; return; }
  const W = Math.max(600, band.clientWidth - 10), H = 64;
  const svg = el("svg:svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, id: "band-svg"});
  for (const piece of bandLayout(p.vmas, W)) {
    if (piece.broken) { svg.appendChild(el("svg:text", {x: piece.x + piece.w / 2, y: 30, "text-anchor": "middle", "font-size": 18}, "≈")); continue; }
    const v = p.vmas[piece.vma];
    const colour = v.perms.includes("x") ? "#f3a712" : v.perms.includes("w") ? "#e4572e" : v.perms[0] === "r" ? "#669bbc" : "#ccc";
    const r = el("svg:rect", {x: piece.x, y: 8, width: piece.w, height: 30, fill: colour, stroke: "#333", "stroke-width": 0.5, class: "vma", "data-start": hex(v.start)});
    r.appendChild(el("svg:title", {}, `${hex(v.start)}-${hex(v.end)} ${v.perms} ${v.name} (${(v.end - v.start) / 1024} kB, ${v.rssPages} resident pages)`));
    r.addEventListener("click", () => setWalk(hex(v.start)));
    svg.appendChild(r);
    if (piece.w > 90) svg.appendChild(el("svg:text", {x: piece.x + 2, y: 52, "font-size": 10}, `${v.perms} ${v.name.split("/").pop()}`));
  }
  band.appendChild(svg);
  const t = el("table", {class: "grid"});
  t.appendChild(el("tr", {}, "")).append(...["range", "perms", "kB", "resident", "name"].map((h) => el("th", {}, h)));
  for (const v of p.vmas) {
    const tr = el("tr", {class: "vma-row"});
    tr.append(el("td", {}, `${hex(v.start)}-${hex(v.end)}`), el("td", {}, v.perms), el("td", {}, String((v.end - v.start) / 1024)),
              el("td", {}, String(v.rssPages)), el("td", {}, v.name));
    tr.addEventListener("click", () => setWalk(hex(v.start)));
    t.appendChild(tr);
  }
  table.appendChild(t);
}

// The VMAs and holes of a band: to scale, holes bigger than a quarter of the mapped bytes broken.
function bandLayout(vmas, width) {
  const idx = vmas.map((_, i) => i).sort((a, b) => vmas[a].start - vmas[b].start);
  const mapped = idx.reduce((s, i) => s + (vmas[i].end - vmas[i].start), 0);
  const pieces = []; let prev = null;
  for (const i of idx) {
    if (prev !== null && vmas[i].start > prev) {
      const gap = vmas[i].start - prev;
      pieces.push(gap > mapped / 4 ? {bytes: 0, broken: true} : {bytes: gap, broken: false, vma: null});
    }
    pieces.push({bytes: vmas[i].end - vmas[i].start, vma: i, broken: false});
    prev = Math.max(prev || 0, vmas[i].end);
  }
  const breaks = pieces.filter((p) => p.broken).length * 18;
  const scale = Math.max(0, width - breaks - pieces.filter((p) => !p.broken).length * 3) / Math.max(1, pieces.reduce((s, p) => s + p.bytes, 0));
  let x = 0;
  for (const p of pieces) { p.x = x; p.w = p.broken ? 18 : 3 + p.bytes * scale; x += p.w; }
  return pieces.filter((p) => p.broken || p.vma !== null);
}

function setWalk(va) { $("walk-va").value = va; st.va = va; st.snaps.clear(); drawSnapshot(st.cur); }

function drawWalk(s) {
  const v = $("walk-view");
  v.replaceChildren();
  if (!s.walk) { v.appendChild(el("p", {class: "muted"}, "Choose an address: click a VMA, or type one and press walk.")); return; }
  const w = s.walk;
  v.appendChild(el("div", {}, w.lines[0]));
  const t = el("table", {class: "grid", id: "walk-table"});
  t.appendChild(el("tr")).append(...["level", "table frame", "index", "entry bits", "then"].map((h) => el("th", {}, h)));
  w.levels.forEach((l, n) => {
    const tr = el("tr", {class: "walk-level " + (l.outcome === "not present" || l.outcome === "reserved" ? "absent" : "present"),
                         "data-level": l.level});
    tr.append(el("td", {}, l.level), el("td", {}, hex(l.table)), el("td", {}, String(l.index)), el("td", {}, l.bits), el("td", {}, l.outcome));
    t.appendChild(tr);
    setTimeout(() => tr.classList.add("hl"), 150 * n);   // highlight level by level
  });
  v.appendChild(t);
  v.appendChild(el("div", {id: "walk-result"}, w.lines[w.lines.length - 1]));
}

function drawTLB(s) {
  const v = $("tlb-view");
  v.replaceChildren();
  for (const c of s.cpus) {
    const counts = ["L1d", "L1d 2M", "L1d 1G", "L1i", "L1i 2M", "STLB", "STLB 1G"].filter((n) => n in c.capacity).map((n) => `${n} ${c.entries.filter((e) => e.tlb === n).length}/${c.capacity[n]}`).join(", ");
    v.appendChild(el("h3", {}, `CPU ${c.id}` + (c.current ? ` (pid ${c.current})` : " (idle)") + ` — ${counts}`));
    const t = el("table", {class: "grid tlb", "data-cpu": c.id});
    t.appendChild(el("tr")).append(...["TLB", "set/way", "page", "frame", "size", "pcid", ""].map((h) => el("th", {}, h)));
    const rows = c.entries.filter((e) => e.tlb !== "L1i").slice(0, 64).map((e) => [e, e.mark]).concat(c.evicted.map((e) => [e, "evicted"]));
    for (const [e, mark] of rows) {
      const tr = el("tr", {class: mark});
      tr.append(el("td", {}, e.tlb), el("td", {}, `${e.set}/${e.way}`), el("td", {}, hex(e.page)), el("td", {}, hex(e.frame)),
                el("td", {}, e.size), el("td", {}, String(e.pcid) + (e.global ? " G" : "")), el("td", {}, mark));
      t.appendChild(tr);
    }
    v.appendChild(t);
  }
}

function drawPhys(s) {
  const v = $("phys-view"), p = s.phys;
  const cols = 64, cell = 7;
  const rows = Math.ceil(p.cells.length / cols);
  const svg = el("svg:svg", {width: cols * cell, height: rows * cell, id: "phys-svg"});
  // One path per use keeps the drawing cheap (thousands of cells).
  const paths = {};
  for (let i = 0; i < p.cells.length; i++) {
    const u = p.cells[i];
    paths[u] = (paths[u] || "") + `M${(i % cols) * cell} ${Math.floor(i / cols) * cell}h${cell - 1}v${cell - 1}h-${cell - 1}z`;
  }
  for (const [u, d] of Object.entries(paths)) {
    const path = el("svg:path", {d, fill: (USE[u] || ["?", "#000"])[1], "data-use": u});
    path.appendChild(el("svg:title", {}, `${USE[u] ? USE[u][0] : u}: ${p.counts[u] || 0} frames`));
    svg.appendChild(path);
  }
  for (const z of p.zones) {
    if (z.startPFN === 0) continue;
    const i = Math.floor(z.startPFN / p.framesPerCell);
    svg.appendChild(el("svg:rect", {x: (i % cols) * cell, y: Math.floor(i / cols) * cell, width: 2, height: cell, fill: "#000"}));
  }
  const legend = el("div", {id: "phys-legend"});
  legend.appendChild(document.createTextNode(`${p.frames} frames, ${p.framesPerCell} per cell; zones ` + p.zones.map((z) => `${z.name} from ${hex(z.startPFN)}`).join(", ") + ". "));
  for (const [k, [name, colour]] of Object.entries(USE)) {
    legend.appendChild(el("span", {class: "key", style: `background:${colour}`}));
    legend.appendChild(el("span", {"data-use": k}, `${name} ${p.counts[k] || 0}`));
  }
  v.replaceChildren(legend, svg);
  const b = $("buddy-view");
  const t = el("table", {class: "grid", id: "buddy-table"});
  t.appendChild(el("tr")).append(el("th", {}, "zone"), el("th", {}, "free pages"), ...[...Array(11).keys()].map((o) => el("th", {}, String(o))));
  for (const z of p.zones) {
    const tr = el("tr", {"data-zone": z.name});
    tr.append(el("td", {}, z.name), el("td", {}, String(z.freePages)), ...z.freeByOrder.map((n) => el("td", {}, String(n))));
    t.appendChild(tr);
  }
  b.replaceChildren(t);
}

function drawFree(s) { $("free-view").textContent = s.free.text; }

function drawMore(s) {
  $("more-view").textContent = s.notModelled.length ? `Not modelled by the simulator yet: ${s.notModelled.join(", ")}.` : "";
  $("panel-more").hidden = !s.notModelled.length;
  drawSlab(s); drawLRU(s); drawSwap(s);
}

// A table with a header row and one row per item; `attrs(item)` gives each row's attributes.
function table(id, head, rows, attrs) {
  const t = el("table", {class: "grid", id});
  t.appendChild(el("tr")).append(...head.map((h) => el("th", {}, h)));
  for (const r of rows) t.appendChild(el("tr", attrs ? attrs(r) : {})).append(...r.cells.map((c) => el("td", {}, String(c))));
  return t;
}

// The slab caches as /proc/slabinfo lists them (newest first).
function drawSlab(s) {
  const v = $("slab-view");
  if (!s.slab) { v.textContent = "not modelled"; return; }
  const rows = s.slab.map((c) => ({name: c.name, cells: [c.name, c.activeObjs, c.numObjs, c.objSize, c.objPerSlab, c.pagesPerSlab, c.activeSlabs, c.numSlabs]}));
  v.replaceChildren(el("p", {}, `${s.slab.length} caches`),
    table("slab-table", ["cache", "active objs", "objs", "objsize", "objs/slab", "pages/slab", "active slabs", "slabs"], rows, (r) => ({"data-cache": r.name})));
}

const LRU = [["i", "inactive_anon", "#f4a582"], ["a", "active_anon", "#ca0020"], ["f", "inactive_file", "#92c5de"],
             ["F", "active_file", "#0571b0"], ["u", "unevictable", "#7b3294"]];

// The five LRU lists' sizes and a map of physical memory coloured by the list each cell's frames are on.
function drawLRU(s) {
  const v = $("lru-view");
  if (!s.lru) { v.textContent = "not modelled"; return; }
  const rows = LRU.map(([k, name], j) => ({name, cells: [name, s.lru.sizes[j]]}));
  const t = table("lru-table", ["list", "pages"], rows, (r) => ({"data-list": r.name}));
  const cols = 64, cell = 5, cells = s.lru.cells;
  const svg = el("svg:svg", {width: cols * cell, height: Math.ceil(cells.length / cols) * cell, id: "lru-svg"});
  const colour = Object.fromEntries(LRU.map(([k, , c]) => [k, c]));
  const paths = {};
  for (let i = 0; i < cells.length; i++) {
    const u = cells[i];
    if (u === "-") continue;
    paths[u] = (paths[u] || "") + `M${(i % cols) * cell} ${Math.floor(i / cols) * cell}h${cell - 1}v${cell - 1}h-${cell - 1}z`;
  }
  for (const [u, d] of Object.entries(paths)) svg.appendChild(el("svg:path", {d, fill: colour[u] || "#000", "data-list": u}));
  const legend = el("div", {}, `frames by LRU list (${s.phys.framesPerCell} per cell): `);
  for (const [, name, c] of LRU) { legend.appendChild(el("span", {class: "key", style: `background:${c}`})); legend.appendChild(el("span", {}, name)); }
  v.replaceChildren(t, legend, svg);
}

// Each swap area: its /proc/swaps numbers and a map of its slots (darker: more slots used).
function drawSwap(s) {
  const v = $("swap-view");
  if (!s.swap) { v.textContent = "not modelled"; return; }
  if (!s.swap.length) { v.replaceChildren(el("p", {id: "swap-none"}, "no swap area enabled")); return; }
  const rows = s.swap.map((a) => ({path: a.path, cells: [a.path, a.kind, a.priority, a.used, a.total]}));
  const parts = [table("swap-table", ["area", "type", "priority", "used slots", "slots"], rows, (r) => ({"data-area": r.path}))];
  for (const a of s.swap) {
    const cols = 64, cell = 6;
    const svg = el("svg:svg", {width: cols * cell, height: Math.ceil(a.cells.length / cols) * cell, class: "swap-map", "data-area": a.path});
    a.cells.forEach((n, i) => {
      if (!n) return;
      const r = el("svg:rect", {x: (i % cols) * cell, y: Math.floor(i / cols) * cell, width: cell - 1, height: cell - 1,
                                fill: "#e4572e", "fill-opacity": (0.25 + 0.75 * n / a.slotsPerCell).toFixed(2)});
      r.appendChild(el("svg:title", {}, `slots ${1 + i * a.slotsPerCell}…: ${n} used`));
      svg.appendChild(r);
    });
    parts.push(el("div", {}, `${a.path}: ${a.slotsPerCell} slot(s) per cell`), svg);
  }
  v.replaceChildren(...parts);
}

// Timelines with a cursor at the current event.
function drawTimelines() {
  const t = st.timeline, v = $("timelines");
  if (!t) return;
  const pids = Object.keys(t.rss).sort((a, b) => a - b);
  const charts = [
    ["tl-rss", "RSS per process (kB)", pids.map((p) => [`${t.processes[p] || p} (${p})`, t.rss[p]])],
    ["tl-free", "free and available (kB)", [["free", t.freeKB], ["available", t.availableKB]]],
    ["tl-faults", "page faults (cumulative)", [["pgfault", t.faults], ["pgmajfault", t.majorFaults]]],
    ["tl-swap", "swap traffic (pages)", [["pswpin+pswpout", t.swapPages]]],
    ["tl-tlb", "TLB miss rate", [["STLB misses / lookups", t.tlbMissRate]], "%"],
  ];
  v.replaceChildren(...charts.map(([id, title, series, unit]) => lineChart(id, title, series, t, unit)));
}

function lineChart(id, title, series, t, unit) {
  const W = 420, H = 130, L = 60, R = 10, T = 18, B = 14;
  const n = t.event.length;
  const maxY = Math.max(1e-9, ...series.flatMap(([, vals]) => vals));
  const svg = el("svg:svg", {width: W, height: H, id, class: "timeline"});
  svg.appendChild(el("svg:text", {x: 2, y: 12, "font-size": 11, "font-weight": "bold"}, title));
  svg.appendChild(el("svg:text", {x: L - 3, y: T + 8, "font-size": 9, "text-anchor": "end"}, unit === "%" ? (maxY * 100).toFixed(1) + "%" : String(Math.round(maxY))));
  const xOf = (j) => L + (n > 1 ? j / (n - 1) : 0) * (W - L - R);
  series.forEach(([name, vals], k) => {
    const pts = vals.map((y, j) => `${xOf(j).toFixed(1)},${(H - B - (y / maxY) * (H - T - B)).toFixed(1)}`).join(" ");
    const line = el("svg:polyline", {points: pts, fill: "none", stroke: COLOURS[k % COLOURS.length], "stroke-width": 1.5});
    line.appendChild(el("svg:title", {}, name));
    svg.appendChild(line);
    svg.appendChild(el("svg:text", {x: W - R, y: T + 10 + 10 * k, "font-size": 9, "text-anchor": "end", fill: COLOURS[k % COLOURS.length]}, name));
  });
  // The cursor: the last point at or before the current event.
  let j = 0;
  while (j + 1 < n && t.event[j + 1] <= st.cur) j++;
  svg.appendChild(el("svg:line", {x1: xOf(j), x2: xOf(j), y1: T, y2: H - B, stroke: "#000", "stroke-dasharray": "2,2", class: "cursor"}));
  svg.addEventListener("click", (ev) => {
    const r = svg.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (ev.clientX - r.left - L) / (W - L - R)));
    go(t.event[Math.round(f * (n - 1))] || 0);
  });
  return svg;
}

// ---- controls ----------------------------------------------------------------------------
function stop() { if (st.timer) { clearTimeout(st.timer); st.timer = null; } $("play").textContent = "▶ play"; }
function play() {
  if (st.timer) { stop(); return; }
  $("play").textContent = "⏸ pause";
  const tick = async () => {
    if (!st.run || st.cur >= st.run.events - 1) { stop(); return; }
    await go(st.cur + 1);
    if (st.timer) st.timer = setTimeout(tick, Number($("speed").value));
  };
  st.timer = setTimeout(tick, 0);
}

window.addEventListener("DOMContentLoaded", () => {
  $("run-example").addEventListener("click", runChosen);
  $("run-pasted").addEventListener("click", () => startRun("/api/run", $("scenario-text").value));
  $("step-fwd").addEventListener("click", () => { stop(); go(st.cur + 1); });
  $("step-back").addEventListener("click", () => { stop(); go(st.cur - 1); });
  $("step-first").addEventListener("click", () => { stop(); go(0); });
  $("step-last").addEventListener("click", () => { stop(); go(st.run ? st.run.events - 1 : 0); });
  $("play").addEventListener("click", play);
  $("jump-go").addEventListener("click", () => { stop(); go(Number($("jump-input").value) - 1); });
  $("slider").addEventListener("input", () => go(Number($("slider").value)));
  $("proc-select").addEventListener("change", () => { st.pid = Number($("proc-select").value); st.snaps.clear(); drawSnapshot(st.cur); });
  $("walk-go").addEventListener("click", () => setWalk($("walk-va").value.trim()));
  $("event-list").addEventListener("scroll", drawList);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight") go(st.cur + 1);
    else if (e.key === "ArrowLeft") go(st.cur - 1);
    else if (e.key === " ") { e.preventDefault(); play(); }
  });
  loadExamples().catch((e) => showError(String(e)));
});
