// The ganforge page: talks to the JSON API of the server that served it (same origin, no CDN).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, frames: [], urls: {} };

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return res;
}

// Blob URLs are kept per slot and released when replaced.
function blobUrl(slot, blob) {
  if (state.urls[slot]) URL.revokeObjectURL(state.urls[slot]);
  state.urls[slot] = URL.createObjectURL(blob);
  return state.urls[slot];
}

function seedOf(input) {
  const v = input.value.trim();
  return v === "" ? Math.floor(Math.random() * 2 ** 31) : Number(v);
}

function intIn(input, lo, hi, what) {
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${what} must be a whole number in ${lo}..${hi}`);
  return v;
}

async function busy(button, work) {
  button.disabled = true;
  try { await work(); } catch (e) { status(e.message, true); } finally { button.disabled = false; }
}

function chosenClass() {
  const v = $("image-class").value;
  return v === "" ? null : Number(v);
}

// ---------------------------------------------------------------- models
async function loadModels() {
  state.models = await (await api("/api/models")).json();
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.kind})`, m.name)));
  if (!state.models.length) { status("this server holds no models", true); return; }
  selectModel(state.models[0].name);
}

function selectModel(name) {
  const m = state.models.find((x) => x.name === name);
  state.model = m;
  const can = (what) => (m.capabilities || []).includes(what);
  $("images").hidden = !can("images");
  $("walk-panel").hidden = !can("interpolate");
  $("tables").hidden = !can("rows");
  $("audio").hidden = !can("audio");
  $("card").textContent = m.card || "(no model card)";
  if (can("images")) {
    $("model-info").textContent = `${m.resolution}×${m.resolution}, ${m.channels === 3 ? "RGB" : "grey"}, ` +
      (m.conditional ? `${m.classes.length} classes` : "unconditional") + `, watermark id ${m.model_id}`;
    const options = [new Option("random", "")];
    m.classes.forEach((c, i) => options.push(new Option(`${i}: ${c}`, String(i))));
    $("image-class").replaceChildren(...options);
    $("image-class").disabled = !m.conditional;
  } else if (can("audio")) {
    $("model-info").textContent = `${m.seconds} s clips at ${m.sample_rate} Hz, ` +
      (m.conditional ? `${m.classes.length} classes` : "unconditional") + `, watermark id ${m.model_id}`;
    const options = [new Option("each in turn", "")];
    m.classes.forEach((c, i) => options.push(new Option(`${i}: ${c}`, String(i))));
    $("audio-class").replaceChildren(...options);
    $("audio-class-label").hidden = !m.conditional;
  } else if (can("rows")) {
    $("model-info").textContent = `${m.kind}, ${m.columns.length} columns`;
    $("columns").textContent = "Columns: " + m.columns.map((c) => `${c.name} (${c.kind})`).join(", ");
  }
  status(`model ${m.name} ready`);
}

// ---------------------------------------------------------------- images
async function generateImages() {
  const m = state.model;
  const n = intIn($("image-n"), 1, 64, "Images");
  const seed = seedOf($("image-seed"));
  const body = { n, seed, class: chosenClass(), truncation: Number($("image-truncation").value) };
  status("generating…");
  const [png, zip] = await Promise.all([
    api(`/api/models/${m.name}/images`, { ...body, format: "png" }).then((r) => r.blob()),
    api(`/api/models/${m.name}/images`, { ...body, format: "zip" }).then((r) => r.blob()),
  ]);
  const url = blobUrl("grid", png);
  const img = $("grid");
  img.src = url;
  await img.decode();
  img.hidden = false;
  $("grid-caption").textContent = `${n} image${n > 1 ? "s" : ""}, seed ${seed}, truncation ${body.truncation}`;
  for (const [id, blob, ext] of [["grid-download", png, "png"], ["zip-download", zip, "zip"]]) {
    const a = $(id);
    a.href = ext === "png" ? url : blobUrl("zip", blob);
    a.download = `${m.name}-seed${seed}.${ext}`;
    a.hidden = false;
  }
  status(`generated ${n} image${n > 1 ? "s" : ""} (seed ${seed})`);
}

async function loadWalk() {
  const m = state.model;
  const frames = intIn($("walk-frames"), 2, 64, "Frames");
  const body = { seed_a: seedOf($("walk-a")), seed_b: seedOf($("walk-b")), frames, class: chosenClass(),
    truncation: Number($("image-truncation").value), format: "json" };
  status("interpolating…");
  const data = await (await api(`/api/models/${m.name}/interpolate`, body)).json();
  state.frames = data.images.map((b64) => `data:image/png;base64,${b64}`);
  state.walkName = `${m.name}-seed${data.seed_a}-to-${data.seed_b}`;
  $("slider").max = String(frames - 1);
  $("slider").value = "0";
  $("walk").hidden = false;
  await showFrame(0);
  status(`walk from seed ${data.seed_a} to seed ${data.seed_b} (${frames} frames)`);
}

async function showFrame(i) {
  const img = $("frame");
  img.src = state.frames[i];
  await img.decode();
  $("frame-caption").textContent = `frame ${i + 1} of ${state.frames.length}`;
  $("frame-download").href = state.frames[i];
  $("frame-download").download = `${state.walkName}-frame${i}.png`;
}

// ---------------------------------------------------------------- audio
function base64Blob(b64, type) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

// Resolves once the player has read the clip's header (its duration), rejects if it cannot play it.
function loadedAudio(player, url) {
  return new Promise((resolve, reject) => {
    player.onloadedmetadata = () => resolve();
    player.onerror = () => reject(new Error("the browser cannot play the generated WAV"));
    player.src = url;
    player.load();
  });
}

async function generateAudio() {
  const m = state.model;
  const n = intIn($("audio-n"), 1, 64, "Clips");
  const seed = seedOf($("audio-seed"));
  const v = $("audio-class").value;
  const body = { n, seed, class: m.conditional && v !== "" ? Number(v) : null };
  status("generating sound…");
  const [data, zip] = await Promise.all([
    api(`/api/models/${m.name}/audio`, { ...body, format: "json" }).then((r) => r.json()),
    api(`/api/models/${m.name}/audio`, { ...body, format: "zip" }).then((r) => r.blob()),
  ]);
  const wav = base64Blob(data.grid, "audio/wav");
  const wavUrl = blobUrl("wav", wav);
  $("audio-result").hidden = false;
  await loadedAudio($("player"), wavUrl);
  const img = $("spectrogram");
  img.src = blobUrl("spectrogram", base64Blob(data.spectrogram, "image/png"));
  await img.decode();
  const names = data.labels ? data.labels.map((c) => m.classes[c]) : [];
  $("audio-caption").textContent = `${n} clip${n > 1 ? "s" : ""} in turn, seed ${data.seed}` +
    (names.length ? ` (classes: ${names.join(", ")})` : "");
  for (const [id, url, ext] of [["wav-download", wavUrl, "wav"], ["audio-zip-download", blobUrl("audio-zip", zip), "zip"]]) {
    const a = $(id);
    a.href = url;
    a.download = `${m.name}-seed${data.seed}.${ext}`;
    a.hidden = false;
  }
  status(`generated ${n} clip${n > 1 ? "s" : ""} (seed ${data.seed})`);
}

// ---------------------------------------------------------------- tables
function parseConditions(text) {
  const out = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq < 1) throw new Error(`condition must be column=value or column=low..high (got "${line}")`);
    const name = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (value.includes("..")) {
      const [lo, hi] = value.split("..").map((s) => (s.trim() === "" ? null : Number(s)));
      if ([lo, hi].some((x) => x !== null && Number.isNaN(x))) throw new Error(`range bounds must be numbers ("${line}")`);
      out[name] = [lo, hi];
    } else {
      out[name] = value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
    }
  }
  return out;
}

function showRows(data, total) {
  const head = document.createElement("tr");
  data.columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c; head.append(th); });
  const rows = data.rows.slice(0, 100).map((r) => {
    const tr = document.createElement("tr");
    data.columns.forEach((c) => {
      const td = document.createElement("td");
      td.textContent = r[c] === null ? "" : String(r[c]);
      tr.append(td);
    });
    return tr;
  });
  $("preview").replaceChildren(head, ...rows);
  $("rows-caption").textContent = `showing ${rows.length} of ${total} rows (seed ${data.seed})`;
}

async function generateRows() {
  const m = state.model;
  const n = intIn($("rows-n"), 1, 100000, "Rows");
  const body = { n, seed: seedOf($("rows-seed")), conditions: parseConditions($("rows-conditions").value) };
  status("generating rows…");
  const [json, csv] = await Promise.all([
    api(`/api/models/${m.name}/rows`, { ...body, format: "json" }).then((r) => r.json()),
    api(`/api/models/${m.name}/rows`, { ...body, format: "csv" }).then((r) => r.blob()),
  ]);
  showRows(json, n);
  const a = $("csv-download");
  a.href = blobUrl("csv", csv);
  a.download = `${m.name}-seed${body.seed}.csv`;
  a.hidden = false;
  status(`generated ${n} rows (seed ${body.seed})`);
}

// ---------------------------------------------------------------- wiring
function wire() {
  $("model").addEventListener("change", (e) => selectModel(e.target.value));
  $("image-truncation").addEventListener("input", (e) => {
    $("image-truncation-value").textContent = Number(e.target.value).toFixed(2);
  });
  $("image-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("image-generate"), generateImages); });
  $("walk-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("walk-load"), loadWalk); });
  $("audio-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("audio-generate"), generateAudio); });
  $("rows-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("rows-generate"), generateRows); });
  $("slider").addEventListener("input", (e) => showFrame(Number(e.target.value)).catch((err) => status(err.message, true)));
}

wire();
loadModels().catch((e) => status(e.message, true));
