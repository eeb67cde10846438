// Swivel's page: one WebSocket pushes the bus here; this script draws the polar view and sends setup commands.
"use strict";

const MODE = location.pathname === "/setup" ? "setup" : (location.pathname === "/kiosk" ? "kiosk" : "live");
const R = 100;                  // radius of the turntable circle in SVG units
const PEOPLE_RANGE_M = 4;       // a person this far away is drawn on the circle
const S = {hello: null, motor: null, policy: null, people: null, doa: null};
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
// What the page measured, for tests and the benchmark: bus-to-draw latency (ms) of each motor.state drawn.
const probe = {latency: [], drawn: 0, log: [], offsetNs: null, rtt: Infinity, replies: [], errors: []};
window.__swivel = probe;

let ws = null, nextId = 1, dirty = false, drag = null, romTyped = false;

// ---- geometry: world azimuth (0 = home, counter-clockwise positive) to SVG, 0 up -----------------------
function pt(deg, r) {
  const a = deg * Math.PI / 180;
  return [-Math.sin(a) * r, -Math.cos(a) * r];
}
function f(x) { return x.toFixed(2); }
// An annular sector from a0 to a1 degrees (counter-clockwise), radii r0..r1 (r0 = 0: a wedge).
function sector(a0, a1, r0, r1) {
  if (a1 < a0) [a0, a1] = [a1, a0];
  if (a1 - a0 >= 359.99) a1 = a0 + 359.99;
  const big = a1 - a0 > 180 ? 1 : 0;
  const [x0, y0] = pt(a0, r1), [x1, y1] = pt(a1, r1);
  let d = `M${f(x0)},${f(y0)} A${r1},${r1} 0 ${big} 0 ${f(x1)},${f(y1)}`;
  if (r0 > 0) {
    const [x2, y2] = pt(a1, r0), [x3, y3] = pt(a0, r0);
    d += ` L${f(x2)},${f(y2)} A${r0},${r0} 0 ${big} 1 ${f(x3)},${f(y3)} Z`;
  } else {
    d += " L0,0 Z";
  }
  return d;
}
function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function wrap(d) { return ((d + 180) % 360 + 360) % 360 - 180; }

// ---- drawing ----------------------------------------------------------------------------------------
function drawNeedle() {
  const m = S.motor;
  if (!m) return;
  const needle = $("needle");
  const [x, y] = pt(m.heading, R);
  needle.setAttribute("x2", f(x));
  needle.setAttribute("y2", f(y));
  needle.dataset.heading = String(m.heading);
  needle.dataset.tns = String(m.t_ns);
  needle.classList.toggle("moving", !!m.moving);
  if (probe.offsetNs !== null && m.t_ns !== probe.lastTns) {
    const nowBusNs = performance.now() * 1e6 + probe.offsetNs;
    probe.latency.push((nowBusNs - m.t_ns) / 1e6);
    if (probe.latency.length > 5000) probe.latency.shift();
  }
  probe.lastTns = m.t_ns;
  probe.drawn += 1;
  probe.log.push([String(m.t_ns), m.heading]);          // what was drawn, for the tests
  if (probe.log.length > 1000) probe.log.shift();
}

function drawZones() {
  const p = S.policy, m = S.motor;
  if (!p || !m) return;
  const h = m.heading, z = p.zones;
  $("z-motion").setAttribute("d", sector(h - z.half_view, h + z.half_view, 0, R));
  $("z-holding").setAttribute("d", sector(h - z.motion, h + z.motion, 0, R));
  $("z-dead").setAttribute("d", sector(h - z.dead, h + z.dead, 0, R));
  const t = $("target");
  if (p.target !== null && p.target !== undefined) {
    const [x, y] = pt(p.target, R + 8);
    t.setAttribute("cx", f(x)); t.setAttribute("cy", f(y)); t.setAttribute("visibility", "visible");
  } else {
    t.setAttribute("visibility", "hidden");
  }
}

function drawRom() {
  const p = S.policy, hello = S.hello;
  if (hello) {
    const [lo, hi] = hello.outer;
    // The part of the circle the turntable can never reach (its cable wrap), drawn as forbidden.
    $("outer").setAttribute("d", sector(hi, lo + 360, R - 4, R + 4));
  }
  if (!p) return;
  const [lo, hi] = drag ? drag.rom : p.rom;
  $("rom").setAttribute("d", sector(lo, hi, 0, R));
  for (const [id, a] of [["h-min", lo], ["h-max", hi]]) {
    const [x, y] = pt(a, R);
    const hnd = $(id);
    hnd.setAttribute("cx", f(x)); hnd.setAttribute("cy", f(y));
    hnd.setAttribute("visibility", MODE === "setup" && canDo("set_rom") ? "visible" : "hidden");
  }
}

function drawPeople() {
  const g = $("people");
  g.replaceChildren();
  const pm = S.people;
  if (!pm) return;
  for (const q of pm.people) {
    if (q.world === null) continue;
    const r = Math.min(q.distance_m / PEOPLE_RANGE_M, 1) * R;
    const [x, y] = pt(q.world, r);
    g.append(el("circle", {cx: f(x), cy: f(y), r: 6, class: q.engaged ? "person engaged" : "person"}));
    g.append(el("text", {x: f(x), y: f(y - 9), class: "plabel"}, `#${q.track_id} ${q.distance_m.toFixed(1)} m`));
  }
}

function drawSound() {
  const ge = $("energy"), gs = $("sound");
  ge.replaceChildren(); gs.replaceChildren();
  const d = S.doa;
  if (!d) return;
  const h = d.heading === null ? (S.motor ? S.motor.heading : 0) : d.heading;
  const emap = d.energy_map || [];
  const peak = Math.max(1e-9, ...emap);
  const step = emap.length ? 360 / emap.length : 0;
  emap.forEach((e, i) => {
    const a = -180 + (i + 0.5) * step + h;        // bin 0 starts at -180 deg, device frame
    const len = 2 + 18 * Math.max(0, e) / peak;
    ge.append(el("path", {d: sector(a - step / 2, a + step / 2, R + 6, R + 6 + len), class: "energy"}));
  });
  for (const c of d.candidates || []) {
    const [x, y] = pt(wrap(c.azimuth + h), R + 24);
    gs.append(el("circle", {cx: f(x), cy: f(y), r: 3, class: "candidate"}));
  }
  if (d.world !== null) {
    const [x, y] = pt(d.world, R + 24);
    gs.append(el("line", {x1: 0, y1: 0, x2: f(x), y2: f(y), class: d.ambiguous ? "sound ambiguous" : "sound"}));
  }
}

function drawReadout() {
  const m = S.motor, p = S.policy, d = S.doa, pm = S.people;
  const lines = [];
  if (m) lines.push(`heading ${m.heading.toFixed(1)} deg, ${m.moving ? "moving " + m.velocity.toFixed(0) + " deg/s" : "still"}` +
                    (m.manual ? ", turned by hand" : "") + (m.stalled ? ", STALLED" : "") + (m.fault ? ", fault: " + m.fault : ""));
  if (p) lines.push(`range of motion ${p.rom[0]}..${p.rom[1]} deg (${p.rom_source || "config"}), ` +
                    `zone ${p.zone || "-"}, target ${p.target === null ? "-" : p.target + " deg"} at ` +
                    `${p.zones.distance_m.toFixed(1)} m${p.zones.assumed ? " (assumed)" : ""}: ` +
                    `dead ${p.zones.dead}, motion from ${p.zones.motion} deg`);
  if (pm) lines.push(pm.blind ? `camera blind (${pm.blind_reason})` :
                     `${pm.people.length} in view, ${pm.people.filter((q) => q.engaged).length} engaged`);
  if (d) lines.push(`last sound ${d.world === null ? "no target" : d.world + " deg"}, confidence ${d.confidence}` +
                    (d.ambiguous ? ", AMBIGUOUS (" + (d.candidates || []).length + " candidates)" : "") + ` (${d.trigger})`);
  $("readout").replaceChildren(...lines.map((t) => Object.assign(document.createElement("div"), {textContent: t})));
}

function frame() {
  if (dirty) {
    dirty = false;
    drawNeedle(); drawZones(); drawRom(); drawPeople(); drawSound(); drawReadout();
  }
  requestAnimationFrame(frame);
}

// ---- panels -----------------------------------------------------------------------------------------
function showPolicy(p) {
  const ul = $("holds");
  ul.replaceChildren(...(p.holds.length ? p.holds : [{name: "none", reason: "motion allowed"}]).map((h) => {
    const li = document.createElement("li");
    li.textContent = `${h.name}: ${h.reason}`;
    return li;
  }));
  $("decision").textContent = `mode ${p.mode}; decision: ${p.decision || "-"}` +
    (p.notes.length ? "; notes: " + p.notes.join("; ") : "");
  if (MODE === "setup") {
    // A number typed but not yet applied stays as typed: the policy republishes its state every second.
    if (!romTyped && !drag) { $("rom-lo").value = p.rom[0]; $("rom-hi").value = p.rom[1]; }
    $("follow").checked = p.follow;
    $("away").checked = p.away;
    if (document.activeElement !== $("away-hours")) $("away-hours").value = p.away_hours || "";
    for (const r of document.querySelectorAll("input[name=speed]")) r.checked = r.value === (p.speed_preset || "normal");
    const setting = p.mode === "rom_setup";
    for (const id of ["rom-min", "rom-max", "rom-done", "rom-cancel"]) $(id).disabled = !setting || !canDo("set_rom");
    $("rom-start").disabled = setting || !canDo("set_rom");
  }
}

function timelineItem(e) {
  const li = document.createElement("li");
  const t = new Date(e.at * 1000).toLocaleTimeString();
  li.textContent = `${t}  ${e.mode}: ${e.decision || "-"}` + (e.holds.length ? `  [${e.holds.join(", ")}]` : "");
  return li;
}

function showHealth(h) {
  const rows = h.services.map((s) => {
    const tr = document.createElement("tr");
    tr.className = s.alive ? "ok" : (s.state === "unseen" ? "unseen" : "bad");
    const cells = [s.name, s.alive ? s.state : (s.state === "unseen" ? "not seen" : "SILENT"),
                   s.age_s === null ? "-" : `${s.age_s} s ago`, String(s.restarts),
                   String(s.dropped + s.dropped_here)];
    for (const c of cells) tr.append(Object.assign(document.createElement("td"), {textContent: c}));
    return tr;
  });
  $("health").tBodies[0].replaceChildren(...rows);
}

function showTokens(m) {
  const rows = m.tokens.map((t) => {
    const tr = document.createElement("tr");
    for (const c of [t.name, t.ops.join(", "), new Date(t.created * 1000).toLocaleDateString()]) {
      tr.append(Object.assign(document.createElement("td"), {textContent: c}));
    }
    const b = Object.assign(document.createElement("button"), {textContent: "Revoke"});
    b.onclick = () => cmd("tokens", {action: "revoke", name: t.name});
    const td = document.createElement("td");
    td.append(b);
    tr.append(td);
    return tr;
  });
  $("tokens").tBodies[0].replaceChildren(...rows);
  // Shown once, here only: the policy keeps its hash.
  $("token-secret").textContent = m.secret ? `new token (copy it now, it is not shown again): ${m.secret}` : "";
}

function canDo(op) { return !!(S.hello && S.hello.ops.includes(op)); }

function say(text, bad) {
  const m = $("setup-msg");
  m.textContent = text;
  m.className = bad ? "msg bad" : "msg";
}

// ---- the socket -------------------------------------------------------------------------------------
function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}
function cmd(op, args) {
  const id = nextId++;
  send(Object.assign({type: "cmd", id, op}, args || {}));
  return id;
}
function syncClock() {
  for (let i = 0; i < 16; i++) setTimeout(() => send({type: "clock", t: performance.now()}), i * 60);
}

const handlers = {
  hello(m) {
    S.hello = m;
    document.body.dataset.principal = m.principal;
    syncClock();
    if (MODE === "setup" && m.ops.includes("tokens")) cmd("tokens", {action: "list"});
    dirty = true;
  },
  motor(m) { S.motor = m; dirty = true; },
  policy(m) { S.policy = m; showPolicy(m); dirty = true; },
  people(m) { S.people = m; dirty = true; },
  doa(m) { S.doa = m; dirty = true; },
  health(m) { showHealth(m); },
  turntable(m) { showTurntable(m); },
  timeline(m) { $("timeline").replaceChildren(...m.entries.slice().reverse().map(timelineItem)); },
  timeline_add(m) {
    const ol = $("timeline");
    ol.prepend(timelineItem(m.entry));
    while (ol.children.length > 60) ol.lastChild.remove();
  },
  code(m) { $("code").textContent = m.code; },
  clock(m) {
    const now = performance.now(), rtt = now - m.echo;
    if (rtt <= probe.rtt) {           // the fastest round trip says the most about the offset
      probe.rtt = rtt;
      probe.offsetNs = m.server_ns - (m.echo + rtt / 2) * 1e6;
    }
  },
  reply(m) {
    probe.replies.push(m);
    say(m.ok ? "done" : m.error, !m.ok);
    if (m.op === "tokens" && m.ok) showTokens(m);
  },
  error(m) { probe.errors.push(m.error); say(m.error, true); },
};

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${MODE === "kiosk" ? "?kiosk=1" : ""}`;
  ws = new WebSocket(url);
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "ok"; };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    const fn = handlers[m.type];
    if (fn) fn(m);
  };
  ws.onclose = (ev) => {
    $("conn").textContent = "reconnecting"; $("conn").className = "bad";
    if (ev.code === 4401 || ev.code === 4403) { location.href = "/pair"; return; }
    setTimeout(connect, 1000);
  };
}

// ---- setup controls ---------------------------------------------------------------------------------
function svgAngle(ev) {
  const svg = $("polar");
  const p = svg.createSVGPoint();
  p.x = ev.clientX; p.y = ev.clientY;
  const q = p.matrixTransform(svg.getScreenCTM().inverse());
  return Math.atan2(-q.x, -q.y) * 180 / Math.PI;
}

function showTurntable(t) {
  // Turntable health (issue 17): what needs attention, and the one button that ends gentle motion.
  const where = t.angle === null ? "" : ` at ${t.angle} deg`;
  const text = t.needs_attention
    ? `turntable needs attention: probable ${t.kind}${where}` + (t.acknowledged ? " (acknowledged)" : "; moving gently")
    : {no_reference: "turntable health: no reference yet", sweeping: "turntable health: recording the reference",
       learning: "turntable health: comparing its first moves", ok: "turntable health: like its reference"}[t.status]
      || `turntable health: ${t.status}`;
  $("turntable-text").textContent = text + (t.note ? ` (${t.note})` : "");
  $("turntable").className = t.needs_attention ? "attention" : "";
  $("health-ack").hidden = !(t.needs_attention && !t.acknowledged) || MODE === "kiosk";
}

function setupControls() {
  $("health-ack").onclick = () => cmd("health_ack", {});
  for (const [id, which] of [["h-min", 0], ["h-max", 1]]) {
    const h = $(id);
    h.addEventListener("pointerdown", (ev) => {
      if (!S.policy) return;
      drag = {which, rom: S.policy.rom.slice()};
      h.setPointerCapture(ev.pointerId);
    });
    h.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const [lo, hi] = S.hello.outer;
      drag.rom[drag.which] = Math.round(Math.min(Math.max(svgAngle(ev), lo), hi));   // the outer range holds
      dirty = true;
    });
    h.addEventListener("pointerup", () => {
      if (!drag) return;
      const [lo, hi] = drag.rom;
      drag = null;
      romTyped = false;                                  // the handles chose the range: the boxes show it again
      cmd("set_rom", {min_deg: Math.min(lo, hi), max_deg: Math.max(lo, hi)});
      dirty = true;
    });
  }
  for (const id of ["rom-lo", "rom-hi"]) $(id).addEventListener("input", () => { romTyped = true; });
  $("rom-apply").onclick = () => {
    romTyped = false;
    cmd("set_rom", {min_deg: Number($("rom-lo").value), max_deg: Number($("rom-hi").value)});
  };
  $("rom-start").onclick = () => cmd("rom_step", {step: "start"});
  $("rom-min").onclick = () => cmd("rom_step", {step: "min"});
  $("rom-max").onclick = () => cmd("rom_step", {step: "max"});
  $("rom-done").onclick = () => cmd("rom_step", {step: "done"});
  $("rom-cancel").onclick = () => cmd("rom_step", {step: "cancel"});
  $("follow").onchange = (ev) => cmd("follow", {enabled: ev.target.checked});
  $("away").onchange = (ev) => cmd("away", {enabled: ev.target.checked});
  $("away-hours-set").onclick = () => cmd("away_hours", {hours: $("away-hours").value.trim()});
  for (const r of document.querySelectorAll("input[name=speed]")) r.onchange = () => cmd("speed", {preset: r.value});
  $("token-create").onclick = () => cmd("tokens", {action: "create", name: $("token-name").value.trim(),
    ops: [...document.querySelectorAll(".token-op:checked")].map((c) => c.value)});
}

document.body.dataset.mode = MODE;
$("setup").hidden = MODE !== "setup";
$("kiosk-code").hidden = MODE !== "kiosk";
if (MODE === "kiosk") document.querySelector("nav").hidden = true;
$(MODE === "setup" ? "nav-setup" : "nav-live").classList.add("here");
setupControls();
connect();
requestAnimationFrame(frame);
setInterval(syncClock, 15000);
window.__swivel.cmd = cmd;
window.__swivel.send = send;
window.__swivel.syncClock = syncClock;
