// The try-it page: send a dropped file to POST /v1/ocr, show each page's image, word boxes and text,
// and offer the reading in every output format.
"use strict";

const ENGINE_PALETTE = ["#1e88e5", "#d81b60", "#8e24aa", "#00897b", "#f4511e", "#6d4c41"];

const $ = (id) => document.getElementById(id);
// The reading shown: its JSON (without the page previews), each page's image and text, the file read.
const view = { doc: null, images: [], texts: [], page: 0, file: null, engine: "" };
const service = { extensions: {} };

// Red at 0, yellow at 0.5, green at 1 (as ocr.export.draw.confidence_color).
function confidenceColor(confidence) {
  const c = Math.min(Math.max(confidence, 0), 1);
  const [r, g] = c < 0.5 ? [255, Math.round(510 * c)] : [Math.round(510 * (1 - c)), 255];
  return `rgb(${r}, ${g}, 0)`;
}

function* words(page) {
  for (const block of page.blocks) for (const line of block.lines) yield* line.words;
}

function sources(doc) {
  const names = new Set();
  for (const page of doc.pages) for (const word of words(page)) names.add(word.source);
  return [...names].sort();
}

function colorBy() {
  return document.querySelector("input[name=color]:checked").value;
}

function wordColor(word, engines) {
  if (colorBy() === "engine") return ENGINE_PALETTE[engines.indexOf(word.source) % ENGINE_PALETTE.length];
  return confidenceColor(word.confidence);
}

function drawLegend(engines) {
  const legend = $("legend");
  legend.replaceChildren();
  const entries = colorBy() === "engine"
    ? engines.map((name, i) => [name, ENGINE_PALETTE[i % ENGINE_PALETTE.length]])
    : [["confidence 0", confidenceColor(0)], ["0.5", confidenceColor(0.5)], ["1", confidenceColor(1)]];
  for (const [label, color] of entries) {
    const item = document.createElement("span");
    item.textContent = label;
    item.style.setProperty("--swatch", color);
    legend.append(item);
  }
}

// The current page: its image as the service read it, the word outlines over it, its text.
function draw() {
  const doc = view.doc;
  if (!doc || doc.pages.length === 0) return;
  const page = doc.pages[view.page];
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  canvas.width = page.width;
  canvas.height = page.height;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, page.width, page.height);
  ctx.drawImage(view.images[view.page], 0, 0, page.width, page.height);
  const engines = sources(doc);
  ctx.lineWidth = Math.max(2, Math.round(Math.max(page.width, page.height) / 600));
  for (const word of words(page)) {
    ctx.beginPath();
    word.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.strokeStyle = wordColor(word, engines);
    ctx.stroke();
  }
  drawLegend(engines);
  $("text").textContent = view.texts[view.page] ?? "";
  $("page-label").textContent = `Page ${view.page + 1} of ${doc.pages.length}`;
  $("previous").disabled = view.page === 0;
  $("next").disabled = view.page === doc.pages.length - 1;
  $("pages").hidden = doc.pages.length < 2;
}

function turnPage(step) {
  if (!view.doc) return;
  view.page = Math.min(Math.max(view.page + step, 0), view.doc.pages.length - 1);
  $("word").textContent = "";
  draw();
}

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").classList.toggle("error", state === "error");
  document.body.dataset.state = state;
}

// A refused or failed request as one line: the service's own reason when it gave one.
async function problem(response) {
  try {
    const body = await response.json();
    return `${response.status} ${body.error}: ${body.detail}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the page preview cannot be shown"));
    image.src = url;
  });
}

// The reading in a text format, rendered by the service from the JSON (nothing is read again).
async function exported(format) {
  const response = await fetch(`/v1/export?format=${format}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(view.doc),
  });
  if (!response.ok) throw new Error(await problem(response));
  return response.blob();
}

function readParams(format) {
  const params = new URLSearchParams({ format });
  if (view.engine) params.set("engine", view.engine); // none chosen yet: the service's default
  return params;
}

async function read(file) {
  setStatus(`Reading ${file.name} …`, "busy");
  $("text").textContent = "";
  $("word").textContent = "";
  $("downloads").hidden = true;
  const started = performance.now();
  view.engine = $("engine").value;
  const params = readParams("json");
  params.set("previews", "true");
  try {
    const response = await fetch(`/v1/ocr?${params}`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    if (!response.ok) {
      setStatus(await problem(response), "error");
      return;
    }
    const body = await response.json();
    const images = await Promise.all(body.pages.map((page) => loadImage(page.image)));
    for (const page of body.pages) delete page.image;
    Object.assign(view, { doc: body, images, page: 0, file, texts: [] });
    window.ocrResult = body;
    view.texts = (await (await exported("text")).text()).split("\n\f");
    draw();
    const count = body.pages.reduce((sum, page) => sum + [...words(page)].length, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const pages = body.pages.length === 1 ? "1 page" : `${body.pages.length} pages`;
    setStatus(`${count} words on ${pages} in ${seconds} s`, "done");
    $("downloads").hidden = false;
  } catch (error) {
    setStatus(`Request failed: ${error.message}`, "error");
  }
}

// The reading saved as a file: the JSON as shown, text formats from the JSON, the PDF from the file again.
async function download(format) {
  if (!view.doc) return;
  const stem = view.file.name.replace(/\.[^.]*$/, "") || "reading";
  const name = `${stem}.${service.extensions[format]}`;
  setStatus(`Preparing ${name} …`, "busy");
  try {
    let blob;
    if (format === "json") {
      blob = new Blob([JSON.stringify(view.doc)], { type: "application/json" });
    } else if (format === "pdf") {
      const response = await fetch(`/v1/ocr?${readParams("pdf")}`, {
        method: "POST",
        headers: { "Content-Type": view.file.type || "application/octet-stream" },
        body: view.file,
      });
      if (!response.ok) throw new Error(await problem(response));
      blob = await response.blob();
    } else {
      blob = await exported(format);
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    setStatus(`Saved ${name}`, "done");
  } catch (error) {
    setStatus(`Download failed: ${error.message}`, "error");
  }
}

// The word under the pointer, if any.
function showWord(event) {
  const doc = view.doc;
  if (!doc || doc.pages.length === 0) return;
  const canvas = $("canvas");
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
  const y = ((event.clientY - rect.top) * canvas.height) / rect.height;
  for (const word of words(doc.pages[view.page])) {
    const xs = word.polygon.map((p) => p[0]);
    const ys = word.polygon.map((p) => p[1]);
    if (x >= Math.min(...xs) && x <= Math.max(...xs) && y >= Math.min(...ys) && y <= Math.max(...ys)) {
      $("word").textContent = `“${word.text}” ${Math.round(word.confidence * 100)} % · ${word.source}`;
      return;
    }
  }
  $("word").textContent = "";
}

async function loadService() {
  const info = await (await fetch("/v1/engines")).json();
  for (const name of info.engines) {
    const option = new Option(name, name, name === info.default, name === info.default);
    $("engine").append(option);
  }
  service.extensions = info.extensions;
  for (const format of info.formats) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = format;
    button.dataset.format = format;
    button.addEventListener("click", () => download(format));
    $("downloads").append(button);
  }
}

function setup() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) read(event.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") $("file").click();
  });
  $("file").addEventListener("change", () => {
    if ($("file").files.length) read($("file").files[0]);
  });
  for (const radio of document.querySelectorAll("input[name=color]")) radio.addEventListener("change", draw);
  $("canvas").addEventListener("mousemove", showWord);
  $("previous").addEventListener("click", () => turnPage(-1));
  $("next").addEventListener("click", () => turnPage(1));
  drawLegend([]);
  loadService().then(() => (document.body.dataset.ready = "yes"));
}

setup();
