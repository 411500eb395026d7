// genlab explorer: every image is decoded by genlab on the server; this script only builds the
// controls from /api/info and points <img> elements at /api/ACTION?... URLs. A slider that moves
// while an image is still loading waits for it, then asks for the newest value only.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;

function query(params) {
  return Object.entries(params).filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
}

// one loader per <img>: at most one request in flight, the latest wanted URL wins
function loader(img, onTime) {
  let busy = false, wanted = null, started = 0;
  img.addEventListener("load", () => {
    busy = false;
    if (onTime) onTime(performance.now() - started);
    img.dataset.loads = String(Number(img.dataset.loads || 0) + 1);
    img.dataset.shown = img.dataset.pending;
    if (wanted) next();
  });
  img.addEventListener("error", async () => {
    busy = false;
    const r = await fetch(img.dataset.pending).catch(() => null);
    const body = r ? await r.json().catch(() => ({})) : {};
    setStatus(body.error || "request failed", true);
    if (wanted) next();
  });
  function next() {
    busy = true;
    started = performance.now();
    img.dataset.pending = wanted;
    img.src = wanted;
    wanted = null;
  }
  return (url) => { wanted = url; if (!busy) next(); };
}

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function labelValue(select) {
  return info.classes ? select.value : null;
}

function fillLabels() {
  const names = info.class_names;
  for (const select of document.querySelectorAll("select.labels")) {
    select.innerHTML = names.map((n, i) => `<option value="${i}">${i}: ${n}</option>`).join("");
  }
  for (const el of document.querySelectorAll(".needs-label")) el.hidden = !info.classes;
  const toward = [...Array(info.attribute_classes).keys()];
  $("attr-toward").innerHTML = toward.map((i) => `<option value="${i}">${names[i] || i}</option>`).join("");
}

function setupSamples() {
  if (!info.sample) { $("samples").hidden = true; return; }
  const show = loader($("sample-img"));
  const clips = info.kind === "clips";
  const animate = clips ? loader($("clip-img")) : null;
  $("clip-img").hidden = !clips;
  const notes = { clips: "one clip of " + info.clip_length + " frames per row; right: the first clip, animated",
                  sequences: "one sampled sequence per panel, one line per feature" };
  if (notes[info.kind]) { $("sample-note").textContent = notes[info.kind]; $("sample-note").hidden = false; }
  const update = () => {
    show("/api/sample?" + query({ seed: $("sample-seed").value, label: labelValue($("sample-label")) }));
    if (animate) animate("/api/clip?" + query({ seed: $("sample-seed").value }));
  };
  $("sample-seed").addEventListener("change", update);
  $("sample-label").addEventListener("change", update);
  $("sample-new").addEventListener("click", () => { $("sample-seed").value = Math.floor(Math.random() * 1e6); update(); });
  update();
}

function setupLatent() {
  if (!info.sliders) { $("latent").hidden = true; return; }
  $("slider-kind").textContent = "(" + info.slider_kind + ", " + "\u00b1" + info.span + " std)";
  if (info.base === "seed") $("base-image-label").firstChild.textContent = "noise seed ";
  else $("base").max = info.test_images - 1;
  const box = $("sliders");
  for (let i = 0; i < info.sliders; i++) {
    box.insertAdjacentHTML("beforeend", `<label>${i + 1} <input type="range" class="slider" id="slider-${i}" ` +
      `min="-${info.span}" max="${info.span}" step="0.05" value="0"><span id="slider-${i}-v">0.00</span></label>`);
  }
  const show = loader($("decode-img"), (ms) => { $("decode-ms").textContent = ms.toFixed(0) + " ms round trip"; });
  const update = () => {
    const values = [...document.querySelectorAll(".slider")].map((s) => {
      $(s.id + "-v").textContent = Number(s.value).toFixed(2);
      return s.value;
    });
    show("/api/decode?" + query({ base: $("base").value, label: labelValue($("decode-label")), v: values.join(",") }));
  };
  box.addEventListener("input", update);
  $("base").addEventListener("change", update);
  $("decode-label").addEventListener("change", update);
  $("reset").addEventListener("click", () => { document.querySelectorAll(".slider").forEach((s) => { s.value = 0; }); update(); });
  update();
}

function setupInterpolation() {
  if (!info.interpolate) { $("interp").hidden = true; return; }
  for (const id of ["interp-a", "interp-b"]) $(id).max = info.test_images - 1;
  const show = loader($("interp-img"));
  const update = () => {
    $("interp-a-img").src = "/api/test_image?index=" + $("interp-a").value;
    $("interp-b-img").src = "/api/test_image?index=" + $("interp-b").value;
    show("/api/interpolate?" + query({ a: $("interp-a").value, b: $("interp-b").value, t: $("interp-t").value,
      method: $("interp-method").value, label: info.classes ? 0 : null }));
  };
  for (const id of ["interp-a", "interp-b", "interp-method"]) $(id).addEventListener("change", update);
  $("interp-t").addEventListener("input", update);
  update();
}

function setupAttribute() {
  if (!info.attribute) { $("attr").hidden = true; return; }
  $("attr-base").max = info.test_images - 1;
  const show = loader($("attr-img"));
  const update = () => {
    $("attr-value").textContent = Number($("attr-strength").value).toFixed(1);
    show("/api/attribute?" + query({ base: $("attr-base").value, toward: $("attr-toward").value, strength: $("attr-strength").value }));
  };
  $("attr-strength").addEventListener("input", update);
  $("attr-base").addEventListener("change", update);
  $("attr-toward").addEventListener("change", update);
  update();
}

function setupTrajectory() {
  if (!info.trajectory) { $("traj").hidden = true; return; }
  const show = loader($("traj-img"));
  const update = () => show("/api/trajectory?" + query({ seed: $("traj-seed").value, label: labelValue($("traj-label")) }));
  $("traj-run").addEventListener("click", update);
  update();
}

function setupStyles() {
  if (!info.style_mixing) { $("styles").hidden = true; return; }
  $("style-level").innerHTML = info.style_levels.map((l) => `<option>${l}</option>`).join("");
  const show = loader($("style-img"));
  const update = () => {
    $("style-psi-v").textContent = Number($("style-psi").value).toFixed(2);
    show("/api/style_mix?" + query({ row: $("style-row").value, col: $("style-col").value,
      level: $("style-level").value, psi: $("style-psi").value }));
  };
  for (const id of ["style-row", "style-col", "style-level"]) $(id).addEventListener("change", update);
  $("style-psi").addEventListener("input", update);
  update();
}

function setupTranslate() {
  if (!info.translate) { $("translate").hidden = true; return; }
  $("tr-index").max = info.test_images - 1;
  $("tr-direction").innerHTML = info.directions.map((d) => `<option value="${d}">${d[0]} \u2192 ${d[1]}</option>`).join("");
  $("tr-direction-label").hidden = info.directions.length < 2;
  $("translate").querySelector("h2").textContent = (info.command === "upscale" ? "Upscaling" : "Translation") +
    " of a test input (0.." + (info.test_images - 1) + ")";
  const show = loader($("tr-img"), (ms) => { $("tr-ms").textContent = ms.toFixed(0) + " ms round trip"; });
  const update = () => {
    const direction = $("tr-direction").value;
    $("tr-index-v").textContent = $("tr-index").value;
    $("tr-columns").textContent = "left to right: " + info.translate_columns[direction].join(" | ");
    show("/api/translate?" + query({ index: $("tr-index").value, direction: direction }));
  };
  $("tr-index").addEventListener("input", update);
  $("tr-direction").addEventListener("change", update);
  update();
}

function setupRows() {
  if (!info.rows) { $("rows").hidden = true; return; }
  $("rows-note").textContent = info.table_rows + " rows sampled with the seed (as genlab synth sample --seed " +
    "gives them); blank: a missing cell";
  const show = loader($("rows-img"));
  const update = () => show("/api/rows?" + query({ seed: $("rows-seed").value }));
  $("rows-seed").addEventListener("change", update);
  $("rows-new").addEventListener("click", () => { $("rows-seed").value = Math.floor(Math.random() * 1e6); update(); });
  update();
}

async function main() {
  try {
    info = await (await fetch("/api/info")).json();
  } catch (e) {
    setStatus("cannot reach the genlab server", true);
    return;
  }
  $("title").textContent = "\u2014 " + info.model + " (" + info.run + ")";
  if (info.kind === "sequences") {  // the test items are series: name them so
    $("interp").querySelector("h2").textContent = "Interpolation between two test sequences";
    $("base-image-label").firstChild.textContent = "start from test sequence ";
  }
  fillLabels();
  setupTranslate();
  setupRows();
  setupSamples();
  setupLatent();
  setupInterpolation();
  setupAttribute();
  setupTrajectory();
  setupStyles();
  setStatus("ready");
  document.body.dataset.ready = "1";
}

main();
