// The page of `perceptron serve`: draw on a canvas, send it as a PNG to
// POST /api/predict while drawing, and show the answer. No library, no build.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const bars = document.getElementById("bars");
const topName = document.getElementById("top-name");
const topProbability = document.getElementById("top-probability");
const statusLine = document.getElementById("status");
const seen = document.getElementById("seen");
const mapsBlock = document.getElementById("maps-block");
const maps = document.getElementById("maps");

const STROKE = 22;        // pen width, in canvas pixels (the canvas is 280 wide)
const MIN_INTERVAL = 120; // at most one request per this many ms while drawing

let hasInk = false;
let drawing = false;
let last = null;
let generation = 0;       // bumped by Clear: answers to older drawings are dropped
let inFlight = false;
let dirty = false;
let timer = null;
let lastSent = 0;

// ------------------------------------------------------------------ drawing
function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: (event.clientX - box.left) * (pad.width / box.width),
    y: (event.clientY - box.top) * (pad.height / box.height),
  };
}

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, STROKE / 2, 0, 2 * Math.PI);
  ctx.fillStyle = "#111";
  ctx.fill();
}

function segment(a, b) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.strokeStyle = "#111";
  ctx.lineWidth = STROKE;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = point(event);
  dot(last);
  hasInk = true;
  schedule();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  // coalesced events: every point the pen passed through, not one per frame
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    segment(last, p);
    last = p;
  }
  schedule();
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  schedule();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  generation += 1;
  dirty = false;
  hasInk = false;
  clearPad();
  showEmpty();
});

// ------------------------------------------------------------------ upload
document.getElementById("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  generation += 1;
  dirty = false;
  try {
    // show the photo in the drawing area (drawing on it afterwards is allowed)
    const bitmap = await createImageBitmap(file);
    clearPad();
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    hasInk = true;
  } catch (err) {
    // the browser cannot show it; the server still says what it thinks
  }
  send(file, file.type || "application/octet-stream", generation);
});

// ------------------------------------------------------------------ requests
function schedule() {
  dirty = true;
  pump();
}

function pump() {
  if (inFlight || !dirty || timer !== null || !hasInk) return;
  const wait = MIN_INTERVAL - (performance.now() - lastSent);
  if (wait > 0) {
    document.body.dataset.state = "busy"; // a drawing waits to be sent
    timer = setTimeout(() => { timer = null; pump(); }, wait);
    return;
  }
  dirty = false;
  inFlight = true; // from now: toBlob is asynchronous too
  const mine = generation;
  pad.toBlob((blob) => send(blob, "image/png", mine), "image/png");
}

async function send(body, type, mine) {
  inFlight = true;
  lastSent = performance.now();
  document.body.dataset.state = "busy";
  try {
    const response = await fetch("/api/predict", {
      method: "POST",
      headers: { "Content-Type": type },
      body,
    });
    const answer = await response.json();
    if (mine !== generation) return; // cleared meanwhile
    if (!response.ok) {
      showError(answer.error || `error ${response.status}`);
    } else {
      showAnswer(answer);
    }
  } catch (err) {
    if (mine === generation) showError(`no answer from the server (${err.message})`);
  } finally {
    inFlight = false;
    pump();
    // idle only when nothing is in flight and no drawing waits to be sent
    if (!inFlight && timer === null) document.body.dataset.state = "idle";
  }
}

// ------------------------------------------------------------------ showing
function percent(p) {
  return p >= 0.995 ? "100%" : p < 0.005 && p > 0 ? "<1%" : `${Math.round(p * 100)}%`;
}

function buildBars(names) {
  bars.replaceChildren();
  for (const name of names) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.className = "bar-name";
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "bar-track";
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.display = "block";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = "";
    li.append(label, track, value);
    bars.appendChild(li);
  }
}

function showEmpty() {
  topName.textContent = "?";
  topProbability.textContent = "draw something";
  for (const li of bars.children) {
    li.classList.remove("top");
    li.querySelector(".bar-fill").style.width = "0";
    li.querySelector(".bar-value").textContent = "";
    li.dataset.probability = "";
  }
  paintGrey(seen, null);
  maps.replaceChildren();
  setStatus("");
}

function showAnswer(answer) {
  topName.textContent = answer.name;
  topProbability.textContent = `${percent(answer.probability)} sure`;
  const top = answer.probabilities.indexOf(Math.max(...answer.probabilities));
  answer.probabilities.forEach((p, i) => {
    const li = bars.children[i];
    if (!li) return;
    li.classList.toggle("top", i === top);
    li.querySelector(".bar-fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".bar-value").textContent = percent(p);
    li.dataset.probability = String(p);
  });
  if (answer.image) paintGrey(seen, answer.image);
  if (answer.feature_maps) showMaps(answer.feature_maps);
  setStatus("");
  document.body.dataset.predictions = String(Number(document.body.dataset.predictions) + 1);
}

function showError(message) {
  setStatus(message, true);
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

// rows of values in [0, 1] (or 0-255 with scale 255) -> grey pixels of a canvas
function paintGrey(canvas, rows, scale = 1) {
  const c = canvas.getContext("2d");
  if (!rows) {
    c.fillStyle = "#000";
    c.fillRect(0, 0, canvas.width, canvas.height);
    return;
  }
  canvas.height = rows.length;
  canvas.width = rows[0].length;
  const image = c.createImageData(canvas.width, canvas.height);
  rows.forEach((row, y) => row.forEach((v, x) => {
    const g = Math.round(Math.min(1, Math.max(0, v / scale)) * 255);
    const k = 4 * (y * canvas.width + x);
    image.data[k] = image.data[k + 1] = image.data[k + 2] = g;
    image.data[k + 3] = 255;
  }));
  c.putImageData(image, 0, 0);
}

function showMaps(fm) {
  mapsBlock.hidden = false;
  if (maps.children.length !== fm.maps.length) {
    maps.replaceChildren(...fm.maps.map(() => document.createElement("canvas")));
  }
  fm.maps.forEach((rows, i) => paintGrey(maps.children[i], rows, 255));
  const shown = fm.maps.length < fm.total ? `${fm.maps.length} of ${fm.total}` : `${fm.total}`;
  document.getElementById("maps-caption").textContent =
    `${shown} maps of the first convolution, each scaled to its own peak (white).`;
}

// ------------------------------------------------------------------ start
async function start() {
  clearPad();
  paintGrey(seen, null);
  try {
    const info = await (await fetch("/api/model")).json();
    const { height, width } = info.input;
    seen.width = width;
    seen.height = height;
    paintGrey(seen, null);
    buildBars(info.names);
    const size = `${height}\u00a0×\u00a0${width}`; // never broken across lines
    const parts = [info.estimator, `${info.classes.length} classes`, `reads ${size} images`];
    if (info.description) parts.push(info.description);
    document.getElementById("model-info").textContent = parts.join(" · ");
    document.getElementById("seen-caption").textContent =
      `Your drawing after the preprocessing, ${size} pixels: cropped, ` +
      "scaled, centred by mass, ink white on black.";
    document.body.dataset.ready = "true";
  } catch (err) {
    showError(`cannot reach the model (${err.message})`);
  }
}

start();
