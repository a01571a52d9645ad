// The counter page: camera preview, frames to /ws/live, overlay and instruction, review, accept.
// Plain script (no framework, nothing from outside the station) under a strict CSP.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const video = $("preview"), overlay = $("overlay"), ctx = overlay.getContext("2d");
  const grab = document.createElement("canvas");
  const MIN_INTERVAL = 80;  // ms between frames sent: at most ~12 per second
  let ws = null, stream = null, sending = false, paused = false, timer = null, lastSent = 0;
  let token = null, lastSaid = null;
  const BOOTH = $("station").dataset.booth === "true", SHOTS = Number($("station").dataset.shots || 3);
  let taken = 0;

  // -- operator options, kept in this browser: resolution and a mirrored preview --------------
  const RESOLUTIONS = { "720": [1280, 720], "1080": [1920, 1080] };
  const remembered = (key) => { try { return localStorage.getItem("photocore.station." + key); } catch (e) { return null; } };
  const remember = (key, value) => { try { localStorage.setItem("photocore.station." + key, value); } catch (e) { /* private mode */ } };
  if (RESOLUTIONS[remembered("resolution")]) $("resolution").value = remembered("resolution");
  $("mirror").checked = remembered("mirror") === "true";

  // The mirror is a CSS transform of the video and the overlay only: the frames sent are drawn
  // from the camera's own picture, so the station sees what the camera sees and its directions
  // ("move to your left", from the person's side) stay right whichever way the preview shows.
  function applyMirror() { $("viewport").classList.toggle("mirrored", $("mirror").checked); }
  $("mirror").addEventListener("change", () => { remember("mirror", String($("mirror").checked)); applyMirror(); });
  applyMirror();

  // -- camera ------------------------------------------------------------------------------
  const CAMERA_TEXT = {
    denied: ["未获准使用摄像头。请在浏览器地址栏允许本页面使用摄像头，然后刷新。",
             "Camera permission was refused. Allow this page to use the camera in the browser's address bar, then reload."],
    none: ["未找到摄像头。请连接摄像头后刷新本页面。", "No camera was found. Connect a camera, then reload this page."],
    busy: ["摄像头正被其他程序使用。请关闭该程序后刷新。", "The camera is in use by another program. Close it, then reload."],
    insecure: ["本页面须通过 127.0.0.1 或 https 打开才能使用摄像头。",
               "Open this page on 127.0.0.1 or over https to use the camera."],
    other: ["无法打开摄像头。", "The camera could not be opened."]
  };

  function cameraMessage(kind, detail) {
    const [zh, en] = CAMERA_TEXT[kind];
    $("camera-message-zh").textContent = zh;
    $("camera-message-en").textContent = en + (detail ? " (" + detail + ")" : "");
    $("camera-message").hidden = false;
  }

  async function listCameras(current) {
    const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    const select = $("camera-select");
    select.replaceChildren(...devices.map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || ("摄像头 Camera " + (i + 1));
      option.selected = d.deviceId === current;
      return option;
    }));
    $("camera-choice").hidden = devices.length < 2;
  }

  let cameraId = null, opening = 0, opened = 0;

  async function startCamera(deviceId) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { cameraMessage("insecure"); return; }
    const attempt = ++opening;
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    const [width, height] = RESOLUTIONS[$("resolution").value] || RESOLUTIONS["720"];
    const video_ = { width: { ideal: width }, height: { ideal: height } };  // ideal: a camera that cannot gives its nearest
    if (deviceId) video_.deviceId = { exact: deviceId };
    let got;
    try {
      got = await navigator.mediaDevices.getUserMedia({ video: video_, audio: false });
    } catch (err) {
      if (attempt !== opening) return;  // a newer choice is being opened
      const kind = { NotAllowedError: "denied", SecurityError: "denied", NotFoundError: "none",
                     OverconstrainedError: "none", NotReadableError: "busy" }[err.name] || "other";
      cameraMessage(kind, err.name);
      return;
    }
    if (attempt !== opening) { got.getTracks().forEach((t) => t.stop()); return; }
    stream = got;
    $("camera-message").hidden = true;
    video.srcObject = stream;
    try { await video.play(); } catch (e) { /* autoplay of a muted stream is allowed */ }
    const settings = stream.getVideoTracks()[0].getSettings();
    cameraId = settings.deviceId || deviceId || null;
    // what the camera really gives (it may not have the size asked for)
    $("camera-size").textContent = settings.width && settings.height ? settings.width + "×" + settings.height : "";
    $("station").dataset.cameraOpened = String(++opened);
    await listCameras(cameraId);
    schedule();
  }
  $("camera-select").addEventListener("change", (e) => startCamera(e.target.value));
  $("resolution").addEventListener("change", (e) => { remember("resolution", e.target.value); startCamera(cameraId); });

  // -- the WebSocket -----------------------------------------------------------------------
  function linkState(zh, en, ok) {
    const el = $("link-state");
    el.textContent = zh + " " + en;
    el.classList.toggle("down", !ok);
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live");
    ws.onopen = () => { linkState("已连接", "Connected", true); sending = false; schedule(); };
    ws.onmessage = (event) => handle(JSON.parse(event.data));
    ws.onclose = () => {
      linkState("连接中断，正在重连…", "Connection lost, reconnecting…", false);
      sending = false;
      if (BOOTH && $("review").hidden && taken) { clearStrip(); paused = false; }  // the shots left with it
      if (!paused) setTimeout(connect, 1000);  // a new connection starts a new session
    };
  }

  function schedule() {
    if (timer !== null) return;
    const wait = Math.max(0, lastSent + MIN_INTERVAL - performance.now());
    timer = setTimeout(() => { timer = null; sendFrame(); }, wait);
  }

  function sendFrame() {
    if (paused || sending || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (!video.videoWidth) { setTimeout(schedule, 100); return; }
    sending = true;
    lastSent = performance.now();
    grab.width = video.videoWidth;
    grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    grab.toBlob((blob) => {
      if (!blob || ws.readyState !== WebSocket.OPEN) { sending = false; setTimeout(schedule, 200); return; }
      ws.send(blob);  // the next frame goes when this one's answer arrives
    }, "image/jpeg", 0.85);
  }

  function handle(message) {
    if (message.type === "retake" || message.type === "reset") { paused = false; schedule(); return; }
    if (message.type === "picked") { showReview(message.captured); return; }
    if (message.type === "error") {  // a frame or command the station refused: say it, go on
      showInstructions(message.instructions || []);
      if (sending) { sending = false; setTimeout(schedule, 500); }
      return;
    }
    if (message.type !== "live") return;
    sending = false;
    showInstructions(message.instructions || []);
    drawOverlay(message.overlay, message.size, message.compliant);
    if (message.captured) { showReview(message.captured); return; }
    if (message.shot) { addShot(message.shot); return; }
    schedule();
  }

  // -- booth: up to SHOTS photos on a strip, the citizen picks one ---------------------------
  function addShot(shot) {
    paused = true;
    taken = shot.number;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "shot";
    button.dataset.token = shot.token;
    button.title = "使用这张 Use this one";
    const img = document.createElement("img");
    img.src = shot.thumbnail;
    img.alt = "第 " + shot.number + " 张 Shot " + shot.number;
    button.append(img, document.createTextNode(" " + shot.number + " · 选这张 Pick"));
    button.addEventListener("click", () => ws.send(JSON.stringify({ type: "pick", token: shot.token })));
    li.append(button);
    $("strip").append(li);
    $("shots-left").textContent = "(" + shot.number + "/" + shot.of + ")";
    $("another").hidden = shot.left <= 0;
    $("booth").hidden = false;
  }

  function clearStrip() {
    taken = 0;
    if ($("strip")) { $("strip").replaceChildren(); $("booth").hidden = true; }
  }

  if (BOOTH) $("another").addEventListener("click", () => {
    if (taken >= SHOTS) return;
    lastSaid = null;
    ws.send(JSON.stringify({ type: "retake" }));
  });

  // -- guidance ----------------------------------------------------------------------------
  function showInstructions(list) {
    const first = list[0];
    $("instruction-zh").textContent = first ? first.message_zh : "";
    $("instruction-en").textContent = first ? first.message_en : "";
    $("guide").dataset.code = first ? first.code : "";
    $("guide").dataset.codes = list.slice(0, 3).map((i) => i.code).join(" ");  // what is on screen
    $("guide").dataset.direction = first && first.direction ? first.direction : "";
    $("more").replaceChildren(...list.slice(1, 3).map((i) => {
      const li = document.createElement("li");
      li.textContent = i.message_zh + " · " + i.message_en;
      return li;
    }));
    const said = first ? first.code + ":" + (first.direction || "") : null;
    if (said !== lastSaid) {
      lastSaid = said;
      if (first && $("speak").checked && window.speechSynthesis) {
        speechSynthesis.cancel();
        const utterance = new SpeechSynthesisUtterance(first.message_zh);
        utterance.lang = "zh-CN";
        speechSynthesis.speak(utterance);
      }
    }
  }

  function line(points, colour, dash) {
    if (!points) return;
    ctx.strokeStyle = colour;
    ctx.setLineDash(dash || []);
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    ctx.lineTo(points[1][0], points[1][1]);
    ctx.stroke();
  }

  function drawOverlay(ov, size, compliant) {
    if (!size) return;
    if (overlay.width !== size[0] || overlay.height !== size[1]) { overlay.width = size[0]; overlay.height = size[1]; }
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (!ov) return;
    const unit = Math.max(2, overlay.width / 400);
    ctx.lineWidth = unit * 1.5;
    const [tx0, ty0, tx1, ty1] = ov.target;
    ctx.strokeStyle = compliant ? "#2ecc71" : "rgba(255,255,255,0.9)";
    ctx.setLineDash([unit * 6, unit * 4]);
    ctx.strokeRect(tx0, ty0, tx1 - tx0, ty1 - ty0);
    ctx.lineWidth = unit;
    if (ov.face_box) {
      const [x0, y0, x1, y1] = ov.face_box;
      ctx.strokeStyle = compliant ? "#2ecc71" : "#f5b041";
      ctx.setLineDash([]);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    }
    line(ov.eye_line, "#f4d03f");
    line(ov.crown_line, "#5dade2", [unit * 3, unit * 3]);
    line(ov.chin_line, "#5dade2", [unit * 3, unit * 3]);
  }

  // -- review and accept -------------------------------------------------------------------
  function verdictItem(v) {
    const li = document.createElement("li");
    li.textContent = v.message_zh + " · " + v.message_en + " (" + v.code + ")";
    return li;
  }

  function showReview(c) {
    paused = true;
    if (BOOTH) $("booth").hidden = true;
    token = c.token;
    $("captured-photo").src = c.image;
    $("captured-annotated").src = c.annotated;
    $("verdict-summary").textContent = c.fails.length
      ? "有 " + c.fails.length + " 项不合格 · " + c.fails.length + " requirement(s) failed"
      : "自动检测全部通过；下列项目需人工确认 · Every automatic check passed; confirm the items below by eye";
    $("fails").replaceChildren(...c.fails.map(verdictItem));
    $("not-assessed").replaceChildren(...c.not_assessed.map(verdictItem));
    document.querySelectorAll("#accept-form input[type=checkbox]").forEach((box) => { box.checked = false; });
    $("accept-error").hidden = true;
    $("guide").classList.add("done");
    $("review").hidden = false;
    $("id-number").focus();
  }

  function acceptError(zh, en) {
    $("accept-error").textContent = zh + " · " + en;
    $("accept-error").hidden = false;
  }

  const ACCEPT_TEXT = {
    "station.bad_id_number": ["身份号码有误，请核对后重新输入", "The ID number is not valid; please check it"],
    "station.checklist": ["请先逐项人工确认", "Confirm every item first"],
    "station.expired": ["照片已失效，请重拍", "This photo is no longer waiting; please retake"]
  };

  $("retake").addEventListener("click", () => {
    token = null;
    $("review").hidden = true;
    $("guide").classList.remove("done");
    lastSaid = null;
    if (BOOTH) clearStrip();  // at the booth, retake from the review starts the shots over
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: BOOTH ? "reset" : "retake" }));
    else { paused = false; connect(); }
  });

  $("accept-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const checked = [...document.querySelectorAll("#accept-form input[name=checked]:checked")].map((b) => b.value);
    const all = document.querySelectorAll("#accept-form input[name=checked]").length;
    if (checked.length < all) { acceptError(...ACCEPT_TEXT["station.checklist"]); return; }
    const idNumber = $("id-number").value.trim().toUpperCase();
    if (!/^[0-9]{17}[0-9X]$/.test(idNumber)) { acceptError(...ACCEPT_TEXT["station.bad_id_number"]); return; }
    $("accept").disabled = $("retake").disabled = true;
    $("working").hidden = false;
    $("accept-error").hidden = true;
    try {
      const response = await fetch("/accept", { method: "POST", headers: { "Content-Type": "application/json" },
                                                body: JSON.stringify({ token, id_number: idNumber, checked }) });
      const body = await response.json();
      if (response.ok) { location.href = body.receipt_url; return; }
      const [zh, en] = ACCEPT_TEXT[body.code] || ["生成或交付失败", "Making or handing over failed"];
      acceptError(zh, en + " — " + body.code + ": " + body.message);
    } catch (err) {
      acceptError("无法连接工位服务", "The station service cannot be reached");
    }
    $("accept").disabled = $("retake").disabled = false;
    $("working").hidden = true;
  });

  connect();
  startCamera();
})();
