// The web page of `ccl-embed serve`: no framework, no CDN; everything comes from this server.
// A search is a link (?q=TEXT or ?like=ID, with collection, modality and label), so the back
// button and a shared address both work; a search by an uploaded image is not (the file stays here).
"use strict";
const $ = (id) => document.getElementById(id);
const PAGE = 24;
let apiKey = sessionStorage.getItem("ccl-embed-key") || "";
let latest = 0; // only the newest search's answer is shown, whatever order the answers arrive in
let current = null; // the search on screen: {q} | {like, path} | {file}
let shown = 0; // how many of its hits are on screen (the next page's offset)
let viewed = null; // the hit open in the item view

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

function inCollection() {
  const p = new URLSearchParams();
  if ($("collection").value) p.set("collection", $("collection").value);
  return p;
}

// An image the server sends, fetched with the key (an <img src> cannot send headers), shown from a blob.
function loadImage(img, id, kind, missing) {
  fetch("/api/items/" + encodeURIComponent(id) + "/" + kind + "?" + inCollection(), { headers: headers() })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(kind))))
    .then((b) => { img.src = URL.createObjectURL(b); })
    .catch(() => { img.alt = missing; });
}

function item(id) { return call("/api/items/" + encodeURIComponent(id) + "?" + inCollection()); }

// ---- what was asked ----------------------------------------------------------------------------
function describe(search) {
  const what = search.q !== undefined ? "\u201c" + search.q + "\u201d"
    : search.file ? "the image " + search.file.name : "items like " + (search.path || search.like);
  const among = { image: " among images", text: " among texts" }[$("modality").value] || "";
  const label = $("label").value ? " labelled " + $("label").value : "";
  return what + among + label + " in collection " + $("collection").value;
}

function showAsked(search) {
  const box = $("asked"), img = $("asked-image");
  box.hidden = search.q !== undefined;
  img.hidden = true;
  img.removeAttribute("src");
  if (search.file) {
    img.src = URL.createObjectURL(search.file);
    img.alt = search.file.name;
    img.hidden = false;
    $("asked-caption").textContent = "Searching by " + search.file.name;
  } else if (search.like) {
    $("asked-caption").textContent = "More like " + (search.path || search.like);
    if (search.modality === "image") {
      img.alt = search.path || "";
      img.hidden = false;
      loadImage(img, search.like, "thumbnail", search.path || "");
    }
  }
}

// ---- results -----------------------------------------------------------------------------------
function relevance(hit) {
  const s = document.createElement("span");
  s.className = "score";
  s.title = "relevance: 1 identical, 0 a typical match, lower less close";
  s.textContent = hit.relevance.toFixed(3);
  return s;
}

function opener(node, hit) {
  node.tabIndex = 0;
  node.dataset.id = hit.id;
  node.dataset.path = hit.path;
  node.addEventListener("click", () => openItem(hit));
  node.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target === node) { e.preventDefault(); openItem(hit); } });
}

function imageCard(hit) {
  const card = document.createElement("article");
  card.className = "hit image-hit";
  opener(card, hit);
  const img = document.createElement("img");
  img.alt = hit.path;
  img.loading = "lazy";
  loadImage(img, hit.id, "thumbnail", hit.path + " (no thumbnail: the file moved or changed)");
  const meta = document.createElement("div");
  meta.className = "meta";
  const path = document.createElement("span");
  path.className = "path";
  path.textContent = hit.path;
  meta.append(path, relevance(hit));
  card.append(img, meta);
  if (hit.label) {
    const label = document.createElement("div");
    label.className = "meta label";
    label.textContent = hit.label;
    card.append(label);
  }
  return card;
}

function textRow(hit) {
  const row = document.createElement("li");
  row.className = "hit text-hit";
  opener(row, hit);
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = hit.text || "";
  const path = document.createElement("span");
  path.className = "path";
  path.textContent = hit.path + (hit.label ? " \u00b7 " + hit.label : "");
  row.append(relevance(hit), text, path);
  return row;
}

function render(hits, append) {
  if (!append) { $("images").replaceChildren(); $("texts").replaceChildren(); shown = 0; }
  for (const hit of hits) (hit.modality === "text" ? $("texts") : $("images")).append(hit.modality === "text" ? textRow(hit) : imageCard(hit));
  shown += hits.length;
  const images = $("images").children.length, texts = $("texts").children.length;
  $("images-heading").hidden = !(images && texts);
  $("texts-heading").hidden = !(images && texts);
  $("more").hidden = hits.length < PAGE;
  $("hits").dataset.query = current.q !== undefined ? current.q : current.file ? current.file.name : current.like;
  if (!shown) show("No hits for " + describe(current) + ".");
  else show("");
}

function request(search, offset) {
  const p = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if ($("collection").value) p.set("collection", $("collection").value);
  if ($("modality").value) p.set("modality", $("modality").value);
  if ($("label").value) p.append("filter", "label:" + $("label").value);
  if (search.file) {
    const form = new FormData();
    form.append("image", search.file);
    return call("/api/search?" + p, { method: "POST", body: form });
  }
  if (search.like) p.set("like", search.like); else p.set("q", search.q);
  return call("/api/search?" + p);
}

// ---- the address -------------------------------------------------------------------------------
function address(search) {
  const p = new URLSearchParams();
  if (search.like) p.set("like", search.like); else p.set("q", search.q);
  for (const field of ["collection", "modality", "label"]) if ($(field).value) p.set(field, $(field).value);
  return "?" + p;
}

async function run(search, how) {
  const mine = ++latest, more = how === "more";
  if (!more) {
    current = search;
    showAsked(search);
    if (how === "push" && !search.file) history.pushState(null, "", address(search));
    if (how === "replace" && !search.file) history.replaceState(null, "", address(search));
  }
  $("status").textContent = more ? "loading more..." : "searching " + describe(search) + "...";
  try {
    const body = await request(search, more ? shown : 0);
    if (mine === latest) render(body.hits, more);
  } catch (e) {
    if (mine === latest) { if (!more) render([], false); show(e.message, true); }
  } finally {
    if (mine === latest) $("status").textContent = "";
  }
}

function searchText(event) {
  if (event) event.preventDefault();
  const q = $("q").value.trim();
  if (!q) { show("Type what you look for, or drop an image.", false); return; }
  run({ q }, "push");
}

function searchImage(file) {
  if (!file) return;
  $("q").value = "";
  run({ file }, "push");
}

function searchLike(hit) {
  $("q").value = "";
  run({ like: hit.id, path: hit.path, modality: hit.modality }, "push");
}

function again() {
  if (current && !current.file) run(current, "replace");
}

// The search an address names: on load (when it names one), and on the back and forward buttons.
async function fromAddress(popped) {
  const p = new URLSearchParams(location.search);
  for (const field of ["collection", "modality"]) if (p.has(field)) $(field).value = p.get(field);
  await loadLabels(p.get("label") || "");
  if (p.get("like")) {
    $("q").value = "";
    const like = p.get("like");
    const found = await item(like).catch(() => ({}));
    run({ like, path: found.path, modality: found.modality }, null);
  } else if (p.get("q")) {
    $("q").value = p.get("q");
    run({ q: p.get("q") }, null);
  } else if (popped) {
    current = null;
    $("q").value = "";
    $("asked").hidden = true;
    $("images").replaceChildren(); $("texts").replaceChildren();
    $("images-heading").hidden = $("texts-heading").hidden = $("more").hidden = true;
  }
}

// ---- the item view -----------------------------------------------------------------------------
async function openItem(hit) {
  viewed = hit;
  const dialog = $("item"), img = $("item-image");
  $("item-path").textContent = hit.path;
  $("item-root").textContent = hit.root || "";
  $("item-label").textContent = hit.label || "none";
  $("item-relevance").textContent = hit.relevance.toFixed(3) + " (cosine " + hit.score.toFixed(3) + ")";
  $("item-text").hidden = hit.modality !== "text";
  $("item-text").textContent = hit.text || "";
  $("item-caption").hidden = true;
  img.hidden = hit.modality === "text";
  img.removeAttribute("src");
  img.alt = hit.path;
  if (!dialog.open) dialog.showModal();
  if (hit.modality === "text") return;
  loadImage(img, hit.id, "image", hit.path + " (the file moved or changed)");
  // its caption: the text items it was ingested with
  const payload = await item(hit.id).catch(() => ({}));
  const partners = await Promise.all((payload.pairs || []).map((id) => item(id).catch(() => ({}))));
  const captions = partners.filter((p) => p.modality === "text" && p.text).map((p) => p.text);
  if (viewed === hit && captions.length) {
    $("item-caption").textContent = captions.join("\n");
    $("item-caption").hidden = false;
  }
}

// ---- collections and labels --------------------------------------------------------------------
async function loadLabels(chosen) {
  const select = $("label");
  select.replaceChildren(new Option("any", ""));
  try {
    const { labels } = await call("/api/labels?" + inCollection());
    for (const l of labels) select.append(new Option(l.name + " (" + l.count + ")", l.name));
  } catch (e) { /* an empty or unreadable collection has no labels to offer */ }
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
}

async function loadCollections() {
  try {
    const [health, list] = await Promise.all([call("/healthz"), call("/api/collections")]);
    show("");
    const select = $("collection");
    select.replaceChildren();
    for (const c of list.collections) {
      const o = new Option(c.name + (c.error ? " (unreadable)" : " (" + c.count + ")"), c.name);
      o.selected = c.name === health.collection;
      select.append(o);
    }
    $("model").textContent = "model " + health.model + ", " + health.dim + "-d";
    await fromAddress(false);
    const chosen = list.collections.find((c) => c.name === select.value);
    if (!list.collections.length || (chosen && chosen.count === 0)) {
      show("The store is empty. Ingest a folder first: ccl-embed ingest DIR", false);
    }
  } catch (e) { show(e.message, true); }
}

$("search").addEventListener("submit", searchText);
$("collection").addEventListener("change", async () => { await loadLabels(""); again(); });
$("modality").addEventListener("change", again);
$("label").addEventListener("change", again);
$("more").addEventListener("click", () => current && run(current, "more"));
$("item-like").addEventListener("click", () => { $("item").close(); if (viewed) searchLike(viewed); });
window.addEventListener("popstate", () => fromAddress(true));
const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); searchImage(e.dataTransfer.files[0]); });
$("file").addEventListener("change", (e) => { searchImage(e.target.files[0]); e.target.value = ""; });
$("savekey").addEventListener("click", () => {
  apiKey = $("apikey").value;
  sessionStorage.setItem("ccl-embed-key", apiKey);
  $("key").hidden = true;
  loadCollections();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && !["INPUT", "SELECT"].includes(document.activeElement.tagName)) { e.preventDefault(); $("q").focus(); }
});
loadCollections();
