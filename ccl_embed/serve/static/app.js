// The web page of `ccl-embed serve`: no framework, no CDN; everything comes from this server.
"use strict";
const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem("ccl-embed-key") || "";
let latest = 0; // only the newest search's answer is shown, whatever order the answers arrive in

function headers() { return apiKey ? { Authorization: "Bearer " + apiKey } : {}; }

function show(text, isError) {
  const m = $("message");
  m.hidden = !text;
  m.textContent = text || "";
  m.className = isError ? "error" : "";
}

async function call(url, options) {
  const response = await fetch(url, { ...(options || {}), headers: headers() });
  if (response.status === 401) { $("key").hidden = false; $("apikey").focus(); }
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}

function params() {
  const p = new URLSearchParams({ limit: "24" });
  if ($("collection").value) p.set("collection", $("collection").value);
  if ($("modality").value) p.set("modality", $("modality").value);
  const label = $("label").value.trim();
  if (label) p.append("filter", "label:" + label);
  return p;
}

function thumb(hit) {
  const img = document.createElement("img");
  img.alt = hit.path;
  img.loading = "lazy";
  const p = new URLSearchParams();
  if ($("collection").value) p.set("collection", $("collection").value);
  // Fetched with the key (an <img src> cannot send headers), then shown from a blob.
  fetch("/api/items/" + encodeURIComponent(hit.id) + "/thumbnail?" + p, { headers: headers() })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error("no thumbnail"))))
    .then((b) => { img.src = URL.createObjectURL(b); })
    .catch(() => { img.alt = hit.path + " (no thumbnail: the file moved or changed)"; });
  return img;
}

function render(hits, what) {
  const box = $("hits");
  box.replaceChildren();
  box.dataset.query = what;
  if (!hits.length) { show("No hits for " + what + ". Is the collection empty? Ingest a folder first: ccl-embed ingest DIR"); return; }
  show("");
  for (const hit of hits) {
    const card = document.createElement("article");
    card.className = "hit " + (hit.modality === "text" ? "text-hit" : "image-hit");
    card.dataset.id = hit.id;
    card.dataset.path = hit.path;
    card.tabIndex = 0;
    if (hit.modality === "image") card.append(thumb(hit));
    const body = document.createElement("div");
    body.className = "body";
    if (hit.text) {
      const t = document.createElement("div");
      t.className = "text";
      t.textContent = hit.text;
      body.append(t);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = hit.path;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.relevance.toFixed(3);
    meta.append(path, score);
    body.append(meta);
    if (hit.label) {
      const label = document.createElement("div");
      label.className = "meta label";
      label.textContent = "label: " + hit.label;
      body.append(label);
    }
    card.append(body);
    box.append(card);
  }
}

async function run(request, what, doing) {
  const mine = ++latest;
  $("status").textContent = doing;
  try {
    const body = await request();
    if (mine === latest) render(body.hits, what);
  } catch (e) {
    if (mine === latest) { $("hits").replaceChildren(); show(e.message, true); }
  } finally {
    if (mine === latest) $("status").textContent = "";
  }
}

async function searchText(event) {
  if (event) event.preventDefault();
  const q = $("q").value.trim();
  if (!q) { show("Type what you look for, or drop an image.", false); return; }
  const p = params();
  p.set("q", q);
  await run(() => call("/api/search?" + p), JSON.stringify(q), "searching...");
}

async function searchImage(file) {
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  await run(() => call("/api/search?" + params(), { method: "POST", body: form }), file.name,
            "searching by " + file.name + "...");
}

async function loadCollections() {
  try {
    const [health, list] = await Promise.all([call("/healthz"), call("/api/collections")]);
    show("");
    const select = $("collection");
    select.replaceChildren();
    for (const c of list.collections) {
      const o = document.createElement("option");
      o.value = c.name;
      o.textContent = c.name + (c.error ? " (unreadable)" : " (" + c.count + ")");
      if (c.name === health.collection) o.selected = true;
      select.append(o);
    }
    const chosen = list.collections.find((c) => c.name === select.value);
    if (!list.collections.length || (chosen && chosen.count === 0)) {
      show("The store is empty. Ingest a folder first: ccl-embed ingest DIR", false);
    }
    $("model").textContent = "model " + health.model + ", " + health.dim + "-d";
  } catch (e) { show(e.message, true); }
}

$("search").addEventListener("submit", searchText);
$("collection").addEventListener("change", () => $("q").value.trim() && searchText());
$("modality").addEventListener("change", () => $("q").value.trim() && searchText());
const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); searchImage(e.dataTransfer.files[0]); });
$("file").addEventListener("change", (e) => searchImage(e.target.files[0]));
$("savekey").addEventListener("click", () => {
  apiKey = $("apikey").value;
  sessionStorage.setItem("ccl-embed-key", apiKey);
  $("key").hidden = true;
  loadCollections();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && document.activeElement.tagName !== "INPUT") { e.preventDefault(); $("q").focus(); }
});
loadCollections();
