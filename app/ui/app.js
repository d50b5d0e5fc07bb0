// The status page: reads the node's own REST endpoints every two seconds and
// its signals as server-sent events. Every string from the node (and so
// from the network) reaches the page through textContent, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function bytes(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " GB";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " kB";
  return n + " B";
}

function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 172800) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

async function get(path) {
  const reply = await fetch(path, { cache: "no-store" });
  // /health answers 503 with a body when unhealthy: still worth showing.
  if (!reply.ok && reply.status !== 503) throw new Error(path + ": HTTP " + reply.status);
  return reply.json();
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    for (const c of cells) tr.append(typeof c === "object" ? c : el("td", {}, c));
    return tr;
  }));
}

function renderInfo(info) {
  $("version").textContent = info.version + " (" + info.revision + ")";
  $("peer-id").textContent = info.peerId || "no relay (in-process)";
  $("addresses").replaceChildren(...(info.listenAddresses || []).map((a) => el("div", {}, a)));
  const torrent = (info.torrentAddresses || []).length ? info.torrentAddresses : [info.torrentListen || ""];
  $("torrent").replaceChildren(...torrent.map((a) => el("div", {}, a)));
  $("uptime").textContent = info.uptimeSeconds === undefined ? "" : duration(info.uptimeSeconds);
}

function renderHealth(health) {
  $("health").textContent = health.status;
  $("health").className = health.status === "ok" ? "" : "error";
  const parts = Object.entries(health.parts || {});
  fill($("components").tBodies[0], parts.map(([name, part]) => {
    const state = el("td", { class: part.healthy ? "" : "error" }, part.state);
    return [name, state];
  }));
}

function timeline(archives) {
  const box = svg("svg", { class: "timeline", viewBox: "0 0 1000 30", preserveAspectRatio: "none",
                            role: "img", "aria-label": archives.length + " archives over time" });
  if (!archives.length) return box;
  const from = Math.min(...archives.map((a) => a.from));
  const to = Math.max(...archives.map((a) => a.to));
  const span = Math.max(1, to - from);
  for (const a of archives) {
    const x = ((a.from - from) / span) * 1000;
    const w = Math.max(2, ((a.to - a.from) / span) * 1000 - 1);
    const rect = svg("rect", { x, y: 2, width: w, height: 26, class: a.imported ? "imported" : "pending" });
    const title = svg("title");
    title.textContent = a.id + ": " + new Date(a.from * 1000).toISOString() + " to " +
      new Date(a.to * 1000).toISOString() + (a.imported ? ", imported" : ", not imported");
    rect.append(title);
    box.append(rect);
  }
  return box;
}

const archiveLists = new Map();  // community ID -> archiveList, read less often

function renderCommunity(c) {
  const box = el("div", { class: "community", "data-community": c.communityId });
  box.append(el("h3", { class: "mono" }, c.communityId));
  const figures = el("div", { class: "figures" });
  const figure = (name, value) => {
    const span = el("span", { "data-figure": name });
    span.append(el("span", { class: "muted" }, name + " "), el("strong", {}, value));
    figures.append(span);
  };
  figure("role", c.role);
  figure("messages", c.messages);
  if (c.role === "owner") figure("not archived yet", c.unarchivedMessages);
  figure("archives", c.archives);
  figure("imported", c.importedArchives);
  if (c.magnetlink && c.magnetlink.clock)
    figure("newest link", new Date(c.magnetlink.clock).toISOString());
  box.append(figures);
  const d = c.download;
  if (d) {
    const done = d.bytesTotal ? d.bytesDone / d.bytesTotal : 0;
    const eta = d.rateBytesPerSecond > 0 && d.bytesTotal > d.bytesDone
      ? duration((d.bytesTotal - d.bytesDone) / d.rateBytesPerSecond) : "unknown";
    box.append(el("div", { class: "download-state" }, "download: " + d.state));
    const bar = el("div", { class: "progress" });
    const fillBar = el("div", { class: "progress-bar", "data-fraction": done.toFixed(4) });
    fillBar.style.width = (done * 100).toFixed(1) + "%";
    bar.append(fillBar);
    box.append(bar, el("div", { class: "muted download-figures" },
      bytes(d.bytesDone) + " of " + bytes(d.bytesTotal) + " at " + bytes(d.rateBytesPerSecond) +
      "/s, ETA " + eta + ", " + d.peers + (d.peers === 1 ? " peer" : " peers")));
  }
  for (const w of c.warnings || []) box.append(el("p", { class: "warning" }, w));
  if (c.lastError) box.append(el("p", { class: "error" }, "last download failed: " + c.lastError));
  if (c.missingKey) box.append(el("p", { class: "warning" }, "waiting for hash-ratchet key " + c.missingKey));
  box.append(timeline(archiveLists.get(c.communityId) || []));
  return box;
}

let tick = 0;
async function refreshCommunities() {
  const list = await get("/archive/v1/communities");
  if (tick % 5 === 0 || list.some((c) => !archiveLists.has(c.communityId) ||
      archiveLists.get(c.communityId).length !== c.archives)) {
    for (const c of list) {
      const detail = await get("/archive/v1/communities/" + encodeURIComponent(c.communityId));
      archiveLists.set(c.communityId, detail.archiveList || []);
    }
  }
  $("communities").replaceChildren(...list.map(renderCommunity));
  if (!list.length) $("communities").append(el("p", { class: "muted" }, "no communities"));
}

function renderPeers(peers) {
  $("peer-count").textContent = "(" + peers.length + ")";
  fill($("peers").tBodies[0], peers.map((p) => [
    el("td", { class: "mono" }, p.peerId), el("td", { class: "mono" }, p.address),
    p.source + ", " + p.direction, p.agent]));
}

function chart(title, points, format) {
  const box = el("div", { class: "chart" });
  const last = points.length ? points[points.length - 1][1] : 0;
  box.append(el("h3", {}, title + ": " + format(last)));
  const area = svg("svg", { viewBox: "0 0 300 100", preserveAspectRatio: "none" });
  if (points.length > 1) {
    const t0 = points[0][0], t1 = points[points.length - 1][0];
    const max = Math.max(1e-9, ...points.map((p) => p[1]));
    const coords = points.map(([t, v]) =>
      (((t - t0) / Math.max(1, t1 - t0)) * 300).toFixed(1) + "," + (98 - (v / max) * 94).toFixed(1));
    area.append(svg("polyline", { points: coords.join(" ") }));
  }
  box.append(area);
  return box;
}

function perSecond(samples, key) {
  const out = [];
  for (let i = 1; i < samples.length; ++i) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    const dv = samples[i][key] - samples[i - 1][key];
    if (dt > 0) out.push([samples[i].t, Math.max(0, dv / dt)]);
  }
  return out;
}

function renderHistory(history) {
  const s = history.samples || [];
  const level = (key) => s.map((x) => [x.t, x[key]]);
  $("charts").replaceChildren(
    chart("Messages stored", level("messagesStored"), (v) => String(v)),
    chart("Relay messages/s", perSecond(s, "relayMessagesIn"), (v) => v.toFixed(1)),
    chart("Seeded", perSecond(s, "seededBytes"), (v) => bytes(v) + "/s"),
    chart("Fetched", perSecond(s, "fetchedBytes"), (v) => bytes(v) + "/s"),
    chart("Memory (anonymous)", level("memoryBytes"), bytes));
}

async function refresh() {
  try {
    const [info, health, peers] = await Promise.all([get("/debug/v1/info"), get("/health"), get("/admin/v1/peers")]);
    renderInfo(info);
    renderHealth(health);
    renderPeers(peers);
    await refreshCommunities();
    if (tick % 5 === 0) renderHistory(await get("/debug/v1/history"));
    $("connection").textContent = "updated " + new Date().toLocaleTimeString();
    $("connection").className = "muted";
  } catch (e) {
    $("connection").textContent = "node not answering: " + e.message;
    $("connection").className = "error";
  }
  ++tick;
  setTimeout(refresh, 2000);
}

function listen() {
  const events = new EventSource("/events");
  events.onmessage = (m) => {
    let text = m.data;
    try {
      const s = JSON.parse(m.data);
      text = s.type + " " + JSON.stringify(s.event);
    } catch (_) { /* shown as it came */ }
    const list = $("signals");
    list.prepend(el("li", { class: "mono" }, new Date().toLocaleTimeString() + " " + text));
    while (list.children.length > 200) list.lastChild.remove();
  };
}

document.addEventListener("DOMContentLoaded", () => { refresh(); listen(); });
