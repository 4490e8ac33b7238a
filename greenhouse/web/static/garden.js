// Digital Greenhouse viewer: draws the garden from the WebSocket stream.
// Plain modern JavaScript and SVG; no build step, no network beyond this server.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STAGES = ["seed", "seedling", "sapling", "young_tree", "mature_tree", "ancient_tree"];
const SKIES = {
  serene_morning: ["#9fd3f5", "#fde9c8"],
  energetic_noon: ["#4fb3ff", "#d9f1ff"],
  focused_afternoon: ["#7fb9e6", "#f3e3c3"],
  creative_evening: ["#6a5acd", "#ffb38a"],
  contemplative_night: ["#0d1b3d", "#2d3f6b"],
  stormy_intensity: ["#3b4450", "#6d7684"],
  misty_mystery: ["#a9b7bf", "#dfe6ea"],
  winter_calm: ["#c9dcec", "#f4f7fb"],
  spring_growth: ["#8fd3ff", "#e6f7d9"],
  summer_vitality: ["#37a6ff", "#fff2b8"],
  autumn_reflection: ["#c58b5a", "#f6d7a7"],
};
const LABELS = {
  commit_pushed: (d) => `${d.commit_count} commit${d.commit_count === 1 ? "" : "s"} to ${shortName(d.repository)} by ${d.author}`,
  music_changed: (d) => (d.is_playing && d.track ? `Now playing ${d.track}${d.artists && d.artists.length ? " by " + d.artists.join(", ") : ""}` : "The music stopped"),
  weather_updated: (d) => `Weather: ${d.description || d.condition}, ${Math.round(d.temperature)}°`,
  growth_stage_changed: (d) => `${shortName(d.repository)} grew from ${human(d.old_stage)} to ${human(d.new_stage)}`,
  atmosphere_changed: (d) => `The garden feels ${human(d.new_atmosphere)}`,
  visitor_joined: (d) => `Someone arrived (${d.live_viewers} watching)`,
  visitor_left: (d) => `Someone left (${d.live_viewers} watching)`,
  service_status: (d) => `${d.service} is ${d.available ? "back" : "unavailable"}`,
};

// The weather service's own names, mapped onto the garden's weather patterns.
const PATTERNS = { storm: "thunderstorm", fog: "misty_fog", rain: "soft_rain", snow: "snow_fall" };
const CONTROL = new Set(["resumed", "subscribed", "pong", "error"]);
const state = { lastId: 0, plants: new Map(), pulses: new Map(), snapshotSeen: false };
let socket = null;
let retryDelay = 1000;

function shortName(repo) { return String(repo || "").split("/").pop(); }
function human(text) { return String(text || "").replace(/_/g, " "); }
function $(id) { return document.getElementById(id); }
function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

// ---------------------------------------------------------------------------------------------
// Connection: the server tells the URL; reconnect with backoff and `since` so nothing is missed.

function wsUrl() {
  const meta = document.querySelector('meta[name="greenhouse-ws"]');
  let url = meta && meta.content && !meta.content.startsWith("__") ? meta.content : "";
  if (!url) url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:8765/ws`;
  const full = new URL(url, location.href);
  if (state.lastId > 0) full.searchParams.set("since", String(state.lastId));
  return full.toString();
}

function setConnection(online, text) {
  const chip = $("connection");
  chip.textContent = text;
  chip.classList.toggle("online", online);
  chip.classList.toggle("offline", !online);
  document.body.dataset.connection = online ? "online" : "offline";
}

function connect() {
  setConnection(false, state.snapshotSeen ? "reconnecting…" : "connecting…");
  socket = new WebSocket(wsUrl());
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setConnection(true, "live");
  });
  socket.addEventListener("message", (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    receive(event);
  });
  socket.addEventListener("close", () => {
    setConnection(false, "offline, reconnecting…");
    const wait = retryDelay * (0.8 + Math.random() * 0.4);
    retryDelay = Math.min(retryDelay * 2, 30000);
    setTimeout(connect, wait);
  });
}

function receive(event) {
  if (!event || typeof event.type !== "string") return;
  if (event.type === "snapshot") {
    applySnapshot(event.data || {});
    state.snapshotSeen = true;
    return;
  }
  // Control frames carry the last event id of their moment, not an event of their own.
  if (CONTROL.has(event.type)) return;
  if (typeof event.id === "number") {
    if (event.id <= state.lastId) return; // already seen (replay overlapping live)
    state.lastId = event.id;
  }
  applyEvent(event);
  tick(event);
}

// ---------------------------------------------------------------------------------------------
// Folding events into what is drawn.

function applySnapshot(snapshot) {
  if (typeof snapshot.last_event_id === "number") state.lastId = Math.max(state.lastId, snapshot.last_event_id);
  for (const plant of snapshot.plants || []) mergePlant(plant.repository, plant);
  if (snapshot.atmosphere) setAtmosphere(snapshot.atmosphere.name, snapshot.atmosphere.weather_pattern);
  if (snapshot.weather) setWeather(snapshot.weather);
  setMusic(snapshot.music);
  setViewers(snapshot.live_viewers);
  drawPlants();
}

function applyEvent(event) {
  const d = event.data || {};
  switch (event.type) {
    case "commit_pushed":
      mergePlant(d.repository, {});
      drawPlants();
      pulse(d.repository);
      break;
    case "growth_stage_changed":
      mergePlant(d.repository, { stage: d.new_stage, score: d.score });
      drawPlants();
      pulse(d.repository);
      break;
    case "growth_updated":
      mergePlant(d.repository, d);
      drawPlants();
      break;
    case "atmosphere_changed":
      setAtmosphere(d.new_atmosphere, d.weather_pattern);
      break;
    case "weather_updated":
      setWeather(d);
      break;
    case "music_changed":
      setMusic(d);
      break;
    case "visitor_joined":
    case "visitor_left":
      setViewers(d.live_viewers);
      break;
  }
}

function mergePlant(repository, fields) {
  const name = shortName(repository);
  if (!name) return;
  const plant = state.plants.get(name) || { repository: name, stage: "seed", score: 0, health: "healthy" };
  for (const [key, value] of Object.entries(fields || {})) {
    if (value !== null && value !== undefined && key !== "repository") plant[key] = value;
  }
  if (!plant.health && plant.health_state) plant.health = plant.health_state;
  state.plants.set(name, plant);
}

function setAtmosphere(name, pattern) {
  if (name) {
    document.body.dataset.atmosphere = name;
    $("atmosphere-name").textContent = human(name);
    const [top, bottom] = SKIES[name] || SKIES.serene_morning;
    $("sky-top").setAttribute("stop-color", top);
    $("sky-bottom").setAttribute("stop-color", bottom);
    const night = name === "contemplative_night";
    $("sun").setAttribute("fill", night ? "#f4f1de" : "url(#sun-glow)");
    $("sun").setAttribute("r", night ? "28" : "70");
  }
  if (pattern) showPattern(pattern);
}

function showPattern(raw) {
  const pattern = PATTERNS[raw] || raw;
  document.body.dataset.weather = pattern;
  drawPrecipitation(pattern);
}

function setWeather(w) {
  const temp = typeof w.temperature === "number" ? `${Math.round(w.temperature)}°` : "";
  $("weather").textContent = `${w.description || w.condition || "—"} ${temp}${w.location ? " in " + w.location : ""}`.trim();
  drawClouds(typeof w.clouds === "number" ? w.clouds : 0);
  // The weather's own pattern shows at once; the atmosphere may refine it later.
  if (w.weather_pattern) showPattern(w.weather_pattern);
}

function setMusic(m) {
  $("music").textContent = m && m.is_playing && m.track
    ? `${m.track}${m.artists && m.artists.length ? " — " + m.artists.join(", ") : ""}`
    : "Nothing is playing.";
}

function setViewers(count) {
  if (typeof count !== "number") return;
  $("viewers").textContent = `${count} watching`;
}

// ---------------------------------------------------------------------------------------------
// Drawing.

let labelRow = 0;

function drawPlants() {
  labelRow = 0;
  const layer = $("plants");
  const names = [...state.plants.keys()].sort();
  // Narrow screens crop the sides of the scene (it fills its box), so plants keep to the middle.
  const left = 150;
  const gap = (1000 - 2 * left) / Math.max(1, names.length - 1);
  layer.replaceChildren();
  const list = $("plant-list");
  list.replaceChildren();
  names.forEach((name, index) => {
    const plant = state.plants.get(name);
    const x = names.length === 1 ? 500 : left + gap * index;
    const ground = 462 + Math.sin(index * 1.7) * 10;
    drawPlant(layer, plant, x, ground);
    const item = document.createElement("li");
    item.textContent = `${name}: ${human(plant.stage)}, ${plant.health || "healthy"}, score ${Number(plant.score || 0).toFixed(2)}`;
    list.appendChild(item);
  });
}

function drawPlant(layer, plant, x, ground) {
  const level = Math.max(0, STAGES.indexOf(plant.stage));
  const health = plant.health || "healthy";
  const g = el("g", {
    class: `plant ${health}`, tabindex: "0", "data-repository": plant.repository,
    "data-stage": plant.stage, role: "button",
    "aria-label": `${plant.repository}, ${human(plant.stage)}, ${health}`,
  }, layer);
  const height = [10, 45, 85, 140, 190, 240][level];
  if (level === 0) {
    el("ellipse", { cx: x, cy: ground - 6, rx: 11, ry: 7, fill: "#8b5e34" }, g);
    el("path", { class: "leafy", d: `M${x} ${ground - 12} q4 -10 10 -8 q-4 8 -10 8z` }, g);
  } else if (level <= 2) {
    el("path", { class: "stem", "stroke-width": 3 + level, d: `M${x} ${ground} q-6 ${-height / 2} 0 ${-height}` }, g);
    const pairs = level === 1 ? 1 : 3;
    for (let i = 0; i < pairs; i++) {
      const y = ground - height * (0.45 + 0.25 * i);
      const size = 16 + level * 5 - i * 3;
      el("path", { class: "leafy", d: `M${x} ${y} q${-size} ${-size / 2} ${-size * 1.4} ${-size / 4} q${size / 2} ${size / 2} ${size * 1.4} ${size / 4}z` }, g);
      el("path", { class: "leafy", d: `M${x} ${y} q${size} ${-size / 2} ${size * 1.4} ${-size / 4} q${-size / 2} ${size / 2} ${-size * 1.4} ${size / 4}z` }, g);
    }
  } else {
    const trunk = 6 + level * 4;
    el("path", { d: `M${x - trunk / 2} ${ground} L${x - trunk / 3} ${ground - height * 0.6} L${x + trunk / 3} ${ground - height * 0.6} L${x + trunk / 2} ${ground} Z`, fill: "#6b4a2f" }, g);
    if (level === 5) {
      el("path", { d: `M${x - trunk / 2} ${ground} q-20 4 -30 12 M${x + trunk / 2} ${ground} q20 4 30 12`, stroke: "#6b4a2f", "stroke-width": 5, fill: "none" }, g);
    }
    const crown = 30 + level * 14;
    const cy = ground - height * 0.72;
    el("circle", { class: "leafy", cx: x, cy: cy, r: crown * 0.75 }, g);
    el("circle", { class: "leafy", cx: x - crown * 0.55, cy: cy + crown * 0.2, r: crown * 0.55 }, g);
    el("circle", { class: "leafy", cx: x + crown * 0.55, cy: cy + crown * 0.2, r: crown * 0.55 }, g);
    el("circle", { class: "leafy", cx: x, cy: cy - crown * 0.45, r: crown * 0.5 }, g);
  }
  markPulse(g, plant.repository);
  const label = el("text", { class: "label", x: x, y: ground + 26 + (labelRow++ % 2) * 20 }, g);
  label.textContent = plant.repository;
  g.addEventListener("mouseenter", (e) => showTooltip(plant, e));
  g.addEventListener("mousemove", (e) => showTooltip(plant, e));
  g.addEventListener("mouseleave", hideTooltip);
  g.addEventListener("focus", (e) => showTooltip(plant, e));
  g.addEventListener("blur", hideTooltip);
  g.addEventListener("click", (e) => showTooltip(plant, e));
}

function showTooltip(plant, event) {
  const tip = $("tooltip");
  const rows = Object.entries(plant.factors || {})
    .map(([k, v]) => `<tr><td>${human(k)}</td><td>${Number(v).toFixed(2)}</td></tr>`).join("");
  let prediction = "";
  if (plant.next_stage && typeof plant.days_to_next_stage === "number") {
    prediction = `${human(plant.next_stage)} in about ${Math.round(plant.days_to_next_stage)} days`;
  } else if (plant.prediction) {
    prediction = human(plant.prediction);
  }
  tip.innerHTML = "";
  const title = document.createElement("strong");
  title.textContent = plant.repository;
  tip.appendChild(title);
  const info = document.createElement("div");
  info.textContent = `${human(plant.stage)} · ${plant.health || "healthy"} · score ${Number(plant.score || 0).toFixed(2)}`;
  tip.appendChild(info);
  if (prediction) {
    const next = document.createElement("div");
    next.textContent = `next: ${prediction}`;
    tip.appendChild(next);
  }
  if (rows) {
    const table = document.createElement("table");
    table.innerHTML = rows; // numbers and fixed factor names only
    tip.appendChild(table);
  }
  const box = $("garden").getBoundingClientRect();
  const source = event.touches ? event.touches[0] : event;
  const left = (source.clientX || box.left + box.width / 2) - box.left + 12;
  const top = (source.clientY || box.top + box.height / 2) - box.top + 12;
  tip.style.left = `${Math.min(left, box.width - 200)}px`;
  tip.style.top = `${Math.min(top, box.height - 120)}px`;
  tip.hidden = false;
}

function hideTooltip() { $("tooltip").hidden = true; }

const PULSE_MS = 1600;

function pulse(repository) {
  const name = shortName(repository);
  // Remembered in the state, so a redraw right after (a growth update) keeps the pulse going.
  state.pulses.set(name, Date.now());
  const node = [...document.querySelectorAll(".plant")].find((n) => n.dataset.repository === name);
  if (!node) return;
  node.classList.remove("pulse");
  void node.getBoundingClientRect(); // restart the animation
  markPulse(node, name);
}

function markPulse(node, name) {
  const at = state.pulses.get(name);
  if (at === undefined) return;
  node.dataset.pulsed = String(at);
  if (Date.now() - at < PULSE_MS) node.classList.add("pulse");
}

function drawClouds(cover) {
  const layer = $("clouds");
  layer.replaceChildren();
  const count = Math.round((cover / 100) * 7);
  for (let i = 0; i < count; i++) {
    const y = 40 + (i * 37) % 150;
    const c = el("g", { class: "cloud", style: `animation-delay:${-i * 11}s` }, layer);
    el("ellipse", { cx: 60, cy: y, rx: 70, ry: 26 }, c);
    el("ellipse", { cx: 110, cy: y - 14, rx: 50, ry: 26 }, c);
  }
}

function drawPrecipitation(pattern) {
  const layer = $("precipitation");
  layer.replaceChildren();
  const rain = { soft_rain: 40, heavy_rain: 110, thunderstorm: 140 }[pattern] || 0;
  const snow = pattern === "snow_fall" ? 80 : 0;
  for (let i = 0; i < rain; i++) {
    const x = (i * 97) % 1000;
    el("line", { class: "drop", x1: x, y1: 0, x2: x - 4, y2: 18, style: `animation-delay:${-(i % 17) / 17}s` }, layer);
  }
  for (let i = 0; i < snow; i++) {
    const x = (i * 131) % 1000;
    el("circle", { class: "flake", cx: x, cy: 0, r: 2 + (i % 3), style: `animation-delay:${-(i % 23) / 4}s` }, layer);
  }
}

function tick(event) {
  const describe = LABELS[event.type];
  if (!describe) return;
  let text;
  try { text = describe(event.data || {}); } catch { return; }
  const item = document.createElement("li");
  item.dataset.type = event.type;
  const time = document.createElement("time");
  time.dateTime = event.timestamp || "";
  time.textContent = (event.timestamp || "").slice(11, 16);
  item.append(time, document.createTextNode(text));
  const ticker = $("ticker");
  ticker.prepend(item);
  while (ticker.children.length > 30) ticker.lastChild.remove();
}

// ---------------------------------------------------------------------------------------------
// Privacy-safe visit beacon and consent. With Do Not Track or Global Privacy Control, nothing.

function privacySignal() {
  return navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
}

function postJSON(path, body) {
  return fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    keepalive: true, credentials: "omit",
  }).catch(() => null);
}

function beacon() {
  let referrer = "";
  try { if (document.referrer) { const r = new URL(document.referrer); referrer = r.origin + r.pathname; } } catch { referrer = ""; }
  postJSON("/api/visits", { path: location.pathname, referrer });
}

function privacy() {
  if (privacySignal()) { document.body.dataset.privacy = "signal"; return; }
  // The server derives a daily, cookieless id and counts the visit only as consent allows.
  // Ids change every day, so a stored choice is carried to today's id: a refusal sends no
  // beacon at all, a grant is recorded again before the beacon.
  const choice = localStorage.getItem("greenhouse-consent");
  if (choice === "no") return;
  if (choice === "yes") {
    postJSON("/api/privacy/consent", { granted: ["analytics"], refused: [] }).then(beacon);
    return;
  }
  beacon();
  const box = $("consent");
  box.hidden = false;
  box.addEventListener("click", (e) => {
    const answer = e.target && e.target.dataset && e.target.dataset.consent;
    if (!answer) return;
    localStorage.setItem("greenhouse-consent", answer);
    box.hidden = true;
    const granted = answer === "yes" ? ["analytics"] : [];
    const refused = answer === "yes" ? [] : ["analytics"];
    postJSON("/api/privacy/consent", { granted, refused });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  connect();
  privacy();
});
