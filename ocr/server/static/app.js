// The try-it page: send a dropped file to POST /v1/ocr, show its text and its word boxes.
"use strict";

const ENGINE_PALETTE = ["#1e88e5", "#d81b60", "#8e24aa", "#00897b", "#f4511e", "#6d4c41"];

const $ = (id) => document.getElementById(id);
const view = { doc: null, image: null };

// Red at 0, yellow at 0.5, green at 1 (as ocr.export.draw.confidence_color).
function confidenceColor(confidence) {
  const c = Math.min(Math.max(confidence, 0), 1);
  const [r, g] = c < 0.5 ? [255, Math.round(510 * c)] : [Math.round(510 * (1 - c)), 255];
  return `rgb(${r}, ${g}, 0)`;
}

function sources(doc) {
  const names = new Set();
  for (const word of words(doc)) names.add(word.source);
  return [...names].sort();
}

function* words(doc, pageIndex) {
  for (const page of doc.pages) {
    if (pageIndex !== undefined && page.index !== pageIndex) continue;
    for (const block of page.blocks) for (const line of block.lines) yield* line.words;
  }
}

function colorBy() {
  return document.querySelector("input[name=color]:checked").value;
}

function wordColor(word, engines) {
  if (colorBy() === "engine") return ENGINE_PALETTE[engines.indexOf(word.source) % ENGINE_PALETTE.length];
  return confidenceColor(word.confidence);
}

// A block's text as the server's text format has it: one text line per row of lines (a table's cells).
function blockText(block) {
  return block.rows.map((row) => row.map((index) => block.lines[index].text).join(" ")).join("\n");
}

function documentText(doc) {
  return doc.pages.map((page) => page.blocks.map(blockText).join("\n\n")).join("\n\n\f\n\n");
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

// The first page: its image when the browser can decode it (else white), the word outlines over it.
function draw() {
  const doc = view.doc;
  if (!doc || doc.pages.length === 0) return;
  const page = doc.pages[0];
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  canvas.width = page.width;
  canvas.height = page.height;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, page.width, page.height);
  if (view.image) ctx.drawImage(view.image, 0, 0, page.width, page.height);
  const engines = sources(doc);
  ctx.lineWidth = Math.max(2, Math.round(Math.max(page.width, page.height) / 600));
  for (const word of words(doc, page.index)) {
    const color = wordColor(word, engines);
    ctx.beginPath();
    word.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.strokeStyle = color;
    ctx.stroke();
  }
  drawLegend(engines);
}

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").classList.toggle("error", state === "error");
  document.body.dataset.state = state;
}

async function decodeImage(file) {
  if (!file.type.startsWith("image/")) return null;
  try {
    return await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return null; // e.g. TIFF: the boxes are drawn on white
  }
}

async function read(file) {
  setStatus(`Reading ${file.name} …`, "busy");
  $("text").textContent = "";
  $("word").textContent = "";
  const started = performance.now();
  const params = new URLSearchParams({ format: "json" });
  if ($("engine").value) params.set("engine", $("engine").value); // none yet: the service's default
  try {
    const response = await fetch(`/v1/ocr?${params}`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    const body = await response.json();
    if (!response.ok) {
      setStatus(`${response.status} ${body.error}: ${body.detail}`, "error");
      return;
    }
    view.doc = body;
    view.image = await decodeImage(file);
    window.ocrResult = body;
    draw();
    $("text").textContent = documentText(body);
    const count = [...words(body)].length;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const pages = body.pages.length === 1 ? "1 page" : `${body.pages.length} pages (boxes of page 1)`;
    setStatus(`${count} words on ${pages} in ${seconds} s`, "done");
  } catch (error) {
    setStatus(`Request failed: ${error.message}`, "error");
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
  for (const word of words(doc, doc.pages[0].index)) {
    const xs = word.polygon.map((p) => p[0]);
    const ys = word.polygon.map((p) => p[1]);
    if (x >= Math.min(...xs) && x <= Math.max(...xs) && y >= Math.min(...ys) && y <= Math.max(...ys)) {
      $("word").textContent = `“${word.text}” ${Math.round(word.confidence * 100)} % · ${word.source}`;
      return;
    }
  }
  $("word").textContent = "";
}

async function loadEngines() {
  const response = await fetch("/v1/engines");
  const info = await response.json();
  for (const name of info.engines) {
    const option = new Option(name, name, name === info.default, name === info.default);
    $("engine").append(option);
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
  drawLegend([]);
  loadEngines().then(() => (document.body.dataset.ready = "yes"));
}

setup();
