/// The page `mgm serve` shows at `/`: drop an image, ask, watch the answer stream, see the rendered
/// template and the timings; click a visual token on the picture to see the weights patch info
/// mining gives its high-resolution block. Self-contained (no external scripts or styles).
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MiniGemini · mgm serve</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f6f3; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  main { display: flex; gap: 2rem; flex-wrap: wrap; }
  section { max-width: 420px; background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1rem; }
  #drop { width: 384px; border: 2px dashed #999; border-radius: 6px; padding: .5rem; text-align: center; }
  #drop.over { border-color: #2a6; background: #efe; }
  canvas { display: block; margin-top: .5rem; cursor: crosshair; }
  #chat { width: 460px; max-width: 460px; }
  textarea, input[type=password] { width: 100%; box-sizing: border-box; font: inherit; }
  #answer { white-space: pre-wrap; min-height: 3rem; border: 1px solid #eee; padding: .5rem; margin-top: .5rem; background: #fafafa; }
  pre { white-space: pre-wrap; font-size: .8rem; background: #f0f0f0; padding: .5rem; }
  .muted { color: #777; font-size: .85rem; }
  button { font: inherit; padding: .3rem 1rem; margin-top: .5rem; }
</style>
</head>
<body>
<h1>MiniGemini — <span id="model">…</span></h1>
<main>
  <section>
    <div id="drop">Drop an image here or <input type="file" id="file" accept="image/png,image/jpeg"></div>
    <canvas id="picture" width="384" height="384"></canvas>
    <p class="muted">Click a visual token: the red cells are its patch info mining weights over the high-resolution region.</p>
    <p id="mining-status" class="muted">No image yet.</p>
  </section>
  <section id="chat">
    <label class="muted">API key (only if the server has one) <input type="password" id="key"></label>
    <textarea id="question" rows="3" placeholder="Ask about the image">What is in the image?</textarea>
    <label class="muted">temperature <input type="number" id="temperature" value="0" min="0" max="2" step="0.1" style="width:4rem"></label>
    <label class="muted">seed <input type="number" id="seed" value="0" min="0" style="width:5rem"></label>
    <br><button id="ask">Ask</button>
    <div id="answer"></div>
    <p id="timings" class="muted"></p>
    <details><summary class="muted">Prompt as rendered by the template <span id="template"></span></summary><pre id="prompt"></pre></details>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const canvas = $("picture"), ctx = canvas.getContext("2d");
let imageURL = null, picture = null, mining = null, selected = null;
// MGM pads to a square with the CLIP mean colour before resizing.
const BACKGROUND = "rgb(122,116,104)";

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h["Authorization"] = "Bearer " + $("key").value;
  return h;
}

fetch("/health").then(r => r.json()).then(j => { $("model").textContent = j.model; }).catch(() => {});

function drawPicture() {
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!picture) return;
  const side = Math.max(picture.width, picture.height), scale = canvas.width / side;
  const w = picture.width * scale, h = picture.height * scale;
  ctx.drawImage(picture, Math.floor((side - picture.width) / 2) * scale, Math.floor((side - picture.height) / 2) * scale, w, h);
  if (!mining) return;
  const cell = canvas.width / mining.grid;
  ctx.strokeStyle = "rgba(255,255,255,0.35)";
  ctx.lineWidth = 1;
  for (let i = 1; i < mining.grid; i++) {
    ctx.beginPath(); ctx.moveTo(i * cell, 0); ctx.lineTo(i * cell, canvas.height); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, i * cell); ctx.lineTo(canvas.width, i * cell); ctx.stroke();
  }
  if (selected === null) return;
  const row = Math.floor(selected / mining.grid), col = selected % mining.grid;
  const weights = mining.weights[selected], block = mining.block, sub = cell / block;
  const top = Math.max(...weights);
  for (let i = 0; i < block; i++) for (let j = 0; j < block; j++) {
    // Square root: the weights of the smaller cells stay visible next to the strongest one.
    const w = Math.sqrt(weights[i * block + j] / top);
    ctx.fillStyle = `rgba(255,0,0,${(0.9 * w).toFixed(3)})`;
    ctx.fillRect(col * cell + j * sub, row * cell + i * sub, sub, sub);
  }
  ctx.strokeStyle = "yellow"; ctx.lineWidth = 2;
  ctx.strokeRect(col * cell + 1, row * cell + 1, cell - 2, cell - 2);
}

function loadImage(file) {
  const reader = new FileReader();
  reader.onload = () => {
    imageURL = reader.result;
    const img = new Image();
    img.onload = () => { picture = img; mining = null; selected = null; drawPicture(); fetchMining(); };
    img.src = imageURL;
  };
  reader.readAsDataURL(file);
}

async function fetchMining() {
  $("mining-status").textContent = "Computing mining weights…";
  document.body.dataset.mining = "pending";
  const response = await fetch("/v1/mining", { method: "POST", headers: headers(), body: JSON.stringify({ image: imageURL }) });
  const json = await response.json();
  if (!response.ok) { $("mining-status").textContent = "Mining: " + json.error.message; document.body.dataset.mining = "error"; return; }
  mining = json;
  $("mining-status").textContent = `${json.grid}×${json.grid} visual tokens, each mining a ${json.block}×${json.block} block of the ${json.map_size}×${json.map_size} high-resolution map. Click one.`;
  document.body.dataset.mining = "ready";
  drawPicture();
}

canvas.addEventListener("click", (event) => {
  if (!mining) return;
  const rect = canvas.getBoundingClientRect();
  const col = Math.min(mining.grid - 1, Math.floor((event.clientX - rect.left) / rect.width * mining.grid));
  const row = Math.min(mining.grid - 1, Math.floor((event.clientY - rect.top) / rect.height * mining.grid));
  selected = row * mining.grid + col;
  const weights = mining.weights[selected], best = weights.indexOf(Math.max(...weights));
  $("mining-status").textContent = `Token (${row}, ${col}): strongest cell (${Math.floor(best / mining.block)}, ${best % mining.block}) with weight ${weights[best].toFixed(3)}.`;
  document.body.dataset.miningToken = String(selected);
  drawPicture();
});

$("file").addEventListener("change", () => { if ($("file").files[0]) loadImage($("file").files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) loadImage(e.dataTransfer.files[0]); });

$("ask").addEventListener("click", async () => {
  const content = [{ type: "text", text: $("question").value }];
  if (imageURL) content.unshift({ type: "image_url", image_url: { url: imageURL } });
  const body = { messages: [{ role: "user", content }], stream: true, temperature: Number($("temperature").value), seed: Number($("seed").value) };
  $("answer").textContent = ""; $("timings").textContent = ""; $("prompt").textContent = "";
  document.body.dataset.state = "asking";
  const started = performance.now();
  let firstToken = null;
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!response.ok) { const j = await response.json(); throw new Error(j.error.message); }
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices && chunk.choices[0];
        if (choice && choice.delta && choice.delta.content) {
          if (firstToken === null) firstToken = performance.now();
          $("answer").textContent += choice.delta.content;
        }
        if (chunk.x_mgm) {
          const m = chunk.x_mgm;
          $("template").textContent = "(" + m.template + ")";
          $("prompt").textContent = m.prompt;
          $("timings").textContent = `vision ${(m.vision_seconds * 1000).toFixed(0)} ms · prefill ${(m.prefill_seconds * 1000).toFixed(0)} ms · `
            + `decode ${m.decode_tokens_per_second.toFixed(1)} tok/s · first token seen after ${((firstToken ?? performance.now()) - started).toFixed(0)} ms`;
        }
      }
    }
    document.body.dataset.state = "done";
  } catch (error) {
    $("answer").textContent = "Error: " + error.message;
    document.body.dataset.state = "error";
  }
});
drawPicture();
</script>
</body>
</html>
"""#
}
