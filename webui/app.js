// The page's behaviour: no framework, no build step. Every URL is relative, so the page works behind a proxy
// prefix and over TLS alike.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const PALETTE = ['#2b59c3', '#d1495b', '#2a9d8f', '#e9a23b', '#8e5cc2', '#3c8d2f', '#c2577f', '#1f7a99', '#a86b32', '#5f6caf', '#b83dba', '#4d7c0f'];
  const FORMATS = 'MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, Ogg, GIF, ASF or MPEG (H.264, HEVC, VP8, VP9, AV1, MPEG-4 and others)';

  const model = { limit: null, maxClips: 10, demo: false, classes: null };
  let file = null;
  let fileURL = null;
  // The video's length in seconds: the server's answer once there is one, else what the browser reads from the
  // file (a webcam recording has none), else the end of the last timeline window so far.
  let duration = 0;
  const length = () => duration || (isFinite($('video').duration) && $('video').duration)
    || timeline.windows.reduce((end, w) => Math.max(end, w.end_s), 0) || 1;
  let busy = false;

  // Sizes as people read them: 1 MB is 2^20 bytes here, as --max-upload-mb means.
  const size = (bytes) => bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
  const seconds = (s) => `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const ms = (v) => v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  const pct = (p) => `${(p * 100).toFixed(1)}%`;

  function showError(title, text, retryAfter) {
    $('error-title').textContent = title;
    $('error-text').textContent = text;
    $('error').hidden = false;
    const retry = $('retry');
    retry.hidden = !file || retryAfter === undefined;
    if (!retry.hidden) {
      let left = retryAfter;
      retry.disabled = left > 0;
      retry.textContent = left > 0 ? `Retry in ${left} s` : 'Retry';
      clearInterval(countdown);
      countdown = setInterval(() => {
        left -= 1;
        retry.disabled = left > 0;
        retry.textContent = left > 0 ? `Retry in ${left} s` : 'Retry';
        if (left <= 0) clearInterval(countdown);
      }, 1000);
    }
  }
  let countdown = 0;
  const clearError = () => { $('error').hidden = true; clearInterval(countdown); };
  const setPhase = (text) => { $('phase').textContent = text; };

  // The server's problem+json in plain words: 413 names the limit, 415 the formats, 503 when to retry.
  function explain(status, problem, retryAfterHeader) {
    // Details are written as clauses ("the queue is full; retry shortly"): shown here as a sentence.
    const raw = problem && problem.detail ? String(problem.detail) : '';
    const detail = raw ? `${raw[0].toUpperCase()}${raw.slice(1)}${/[.!?]$/.test(raw) ? '' : '.'}` : '';
    const title = problem && problem.title ? problem.title : `HTTP ${status}`;
    if (status === 413) {
      const limit = model.limit ? size(model.limit) : 'its limit';
      return [`The video is too large`, `The server accepts videos up to ${limit}. Trim or compress it and try again.`];
    }
    if (status === 415) {
      return [`This format is not supported`, `Use a video file: ${FORMATS}. The server said: ${detail}`];
    }
    if (status === 503) {
      const wait = Math.max(1, parseInt(retryAfterHeader || '1', 10) || 1);
      return [`The server is busy`, `Retry in ${wait} second${wait === 1 ? '' : 's'}. ${detail}`, wait];
    }
    if (status === 422) return [`No usable video in this file`, detail];
    if (status === 504) return [`The server ran out of time`, `${detail}`];
    return [title, detail || `The server answered with status ${status}.`];
  }

  async function loadModel() {
    try {
      const response = await fetch('v1/model', { headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`status ${response.status}`);
      const info = await response.json();
      model.demo = !!(info.weights && info.weights.demo);
      model.limit = typeof info.max_upload_bytes === 'number' ? info.max_upload_bytes : null;
      model.maxClips = info.max_clips || 10;
      model.classes = info.classes || null;
      $('demo-banner').hidden = !model.demo;
      $('limit').textContent = model.limit ? `Up to ${size(model.limit)} per video.` : '';
      if (model.classes) $('model-line').textContent = `R(2+1)D-18 recognises ${model.classes} actions. The video is classified on this server and not kept.`;
      for (const option of [...$('clips').options]) option.disabled = Number(option.value) > model.maxClips;
      if (Number($('clips').value) > model.maxClips) $('clips').value = '1';
    } catch (error) {
      $('limit').textContent = 'Could not read the server\'s limits; uploads are checked by the server.';
    }
    if (file) checkFile();
  }

  function checkFile() {
    clearError();
    $('file-line').textContent = file ? `${file.name || 'recording'}: ${size(file.size)}` : '';
    if (!file) { $('go').disabled = true; return false; }
    if (model.limit !== null && file.size > model.limit) {
      $('go').disabled = true;
      showError('The video is too large', `This file is ${size(file.size)}; the server accepts videos up to ${size(model.limit)}. Trim or compress it and try again.`);
      setPhase('');
      return false;
    }
    $('go').disabled = busy;
    return true;
  }

  function choose(chosen) {
    if (!chosen) return;
    file = chosen;
    if (fileURL) URL.revokeObjectURL(fileURL);
    fileURL = URL.createObjectURL(file);
    duration = 0;
    $('video').src = fileURL;
    // The video shows at once; the answer joins it when it arrives.
    $('result').hidden = false;
    $('answer').hidden = true;
    $('clips-box').hidden = true;
    resetTimeline(false);
    if (checkFile()) classify();
  }

  // --- Input: file picker, drag and drop, webcam -------------------------------------------------------------
  $('file').addEventListener('change', (event) => choose(event.target.files[0]));
  const drop = $('drop');
  for (const name of ['dragenter', 'dragover']) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add('over'); });
  }
  for (const name of ['dragleave', 'drop']) drop.addEventListener(name, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    const dropped = event.dataTransfer && event.dataTransfer.files[0];
    if (dropped) choose(dropped);
  });
  // A file dropped beside the zone would otherwise replace the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());

  const canRecord = window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder;
  if (canRecord) {
    $('record').hidden = false;
  } else {
    $('record-note').hidden = false;
    $('record-note').textContent = window.isSecureContext ? 'This browser cannot record video here.' : 'Recording from the webcam needs HTTPS (or localhost).';
  }
  let recorder = null;
  $('record').addEventListener('click', async () => {
    clearError();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      showError('The webcam is not available', `${error.name === 'NotAllowedError' ? 'Permission was refused.' : error.message || error.name}`);
      return;
    }
    const type = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm', 'video/mp4'].find((t) => MediaRecorder.isTypeSupported(t)) || '';
    const chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    recorder.addEventListener('dataavailable', (event) => { if (event.data.size) chunks.push(event.data); });
    const started = Date.now();
    const clock = setInterval(() => {
      const elapsed = (Date.now() - started) / 1000;
      $('record-time').textContent = `Recording: ${elapsed.toFixed(0)} s of at most 30 s`;
      if (elapsed >= 30 && recorder.state === 'recording') recorder.stop();
    }, 250);
    recorder.addEventListener('stop', () => {
      clearInterval(clock);
      stream.getTracks().forEach((track) => track.stop());
      $('recorder').hidden = true;
      $('record').disabled = false;
      const mime = (recorder.mimeType || type || 'video/webm').split(';')[0];
      const extension = mime.includes('mp4') ? 'mp4' : 'webm';
      choose(new File(chunks, `webcam.${extension}`, { type: mime }));
    });
    $('live').srcObject = stream;
    $('live').play();
    $('recorder').hidden = false;
    $('record').disabled = true;
    recorder.start(1000);
    $('stop').focus();
  });
  $('stop').addEventListener('click', () => { if (recorder && recorder.state === 'recording') recorder.stop(); });

  $('options').addEventListener('submit', (event) => { event.preventDefault(); if (file && checkFile()) classify(); });
  $('retry').addEventListener('click', () => { if (file && checkFile()) classify(); });

  // --- Upload ---------------------------------------------------------------------------------------------
  function query(timeline) {
    const params = new URLSearchParams({ top_k: $('top-k').value, clips: $('clips').value });
    if (timeline) params.set('timeline', '1');
    return `v1/classify?${params}`;
  }

  function begin() {
    busy = true;
    clearError();
    $('go').disabled = true;
    $('progress').hidden = false;
    $('progress').value = 0;
    $('answer').hidden = true;
  }
  function end() {
    busy = false;
    $('go').disabled = !file;
    $('progress').hidden = true;
  }

  function classify() {
    if (busy) return;
    begin();
    const form = new FormData();
    form.append('video', file, file.name || 'video');
    if ($('timeline-on').checked && window.ReadableStream && window.TextDecoder) classifyStreaming(form);
    else classifyWithProgress(form);
  }

  // XMLHttpRequest, for its upload progress events.
  function classifyWithProgress(form) {
    const started = performance.now();
    let uploadedAt = null;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', query(false));
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable) return;
      $('progress').value = event.loaded / event.total;
      setPhase(`Uploading: ${size(event.loaded)} of ${size(event.total)}`);
    });
    xhr.upload.addEventListener('load', () => {
      uploadedAt = performance.now();
      $('progress').removeAttribute('value');
      setPhase('Uploaded. Decoding and classifying…');
    });
    xhr.addEventListener('load', () => {
      end();
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (error) { body = null; }
      if (xhr.status === 200 && body) {
        show(body, uploadedAt === null ? null : uploadedAt - started);
      } else {
        failed(xhr.status, body, xhr.getResponseHeader('Retry-After'));
      }
    });
    xhr.addEventListener('error', () => {
      end();
      setPhase('');
      showError('The upload did not reach the server', 'The connection failed. Check that the server is running and try again.', 0);
    });
    setPhase('Uploading…');
    xhr.send(form);
  }

  function failed(status, problem, retryAfter) {
    setPhase('');
    const [title, text, wait] = explain(status, problem, retryAfter);
    showError(title, text, wait);
  }

  // fetch() and a ReadableStream, to draw timeline windows as the server computes them (NDJSON, one object a line).
  async function classifyStreaming(form) {
    const started = performance.now();
    setPhase('Uploading and classifying; the timeline fills in as windows are computed…');
    $('progress').removeAttribute('value');
    resetTimeline(true);
    let response;
    try {
      response = await fetch(query(true), { method: 'POST', body: form, headers: { Accept: 'application/x-ndjson' } });
    } catch (error) {
      end();
      setPhase('');
      showError('The upload did not reach the server', 'The connection failed. Check that the server is running and try again.', 0);
      return;
    }
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok) {
      end();
      let problem = null;
      try { problem = await response.json(); } catch (error) { problem = null; }
      failed(response.status, problem, response.headers.get('Retry-After'));
      return;
    }
    if (!type.includes('ndjson')) {
      // A server without streaming answers the whole JSON at once.
      const body = await response.json().catch(() => null);
      end();
      if (body) show(body, null); else failed(response.status, null, null);
      return;
    }
    $('result').hidden = false;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let finished = false;
    const line = (text) => {
      if (!text.trim()) return;
      const message = JSON.parse(text);
      if (message.window) {
        addWindow(message.window);
        setPhase(`Timeline: ${timeline.windows.length} window${timeline.windows.length === 1 ? '' : 's'} so far…`);
      } else if (message.result) {
        finished = true;
        end();
        show(message.result, null, performance.now() - started);
      } else if (message.error) {
        finished = true;
        end();
        failed(message.error.status, message.error, null);
      }
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          line(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      }
      line(buffer);
    } catch (error) {
      if (!finished) { end(); showError('The answer stopped half-way', 'The connection closed before the result arrived. Try again.', 0); }
      return;
    }
    if (!finished) { end(); showError('The answer stopped half-way', 'The connection closed before the result arrived. Try again.', 0); }
  }

  // --- The answer -----------------------------------------------------------------------------------------
  function show(answer, uploadMs, wallMs) {
    setPhase('');
    $('result').hidden = false;
    $('answer').hidden = false;
    const videoInfo = answer.video || {};
    if (videoInfo.duration_s) duration = videoInfo.duration_s;
    const bars = $('bars');
    bars.replaceChildren();
    for (const p of answer.predictions || []) {
      const item = el('li');
      item.append(el('span', 'label', p.label), el('span', 'pct', pct(p.score)));
      const bar = el('span', 'bar');
      const fill = el('span', 'fill');
      fill.style.width = `${Math.max(0, Math.min(1, p.score)) * 100}%`;
      bar.append(fill);
      bar.setAttribute('aria-hidden', 'true');
      item.append(bar);
      bars.append(item);
    }
    const timing = $('timing');
    timing.replaceChildren();
    const rows = [];
    if (uploadMs !== null && uploadMs !== undefined) rows.push(['Upload', ms(uploadMs)]);
    const t = answer.timing_ms || {};
    for (const [name, key] of [['Decode', 'decode'], ['Queue', 'queue'], ['Inference', 'inference'], ['Server total', 'total']]) {
      if (typeof t[key] === 'number') rows.push([name, ms(t[key])]);
    }
    if (wallMs) rows.push(['Round trip', ms(wallMs)]);
    for (const [name, value] of rows) timing.append(el('dt', null, name), el('dd', null, value));
    const parts = [];
    if (videoInfo.width) parts.push(`${videoInfo.width}×${videoInfo.height}`);
    if (videoInfo.fps) parts.push(`${Math.round(videoInfo.fps * 100) / 100} fps`);
    if (videoInfo.duration_s) parts.push(seconds(videoInfo.duration_s));
    if (videoInfo.codec) parts.push(videoInfo.codec);
    $('video-info').textContent = parts.length ? `Video: ${parts.join(', ')}` : '';
    drawClips(answer.clips || []);
    $('clips-box').hidden = !(answer.clips || []).length;
    if (Array.isArray(answer.timeline)) {
      resetTimeline(true);
      for (const w of answer.timeline) addWindow(w);
      drawSegments(answer.segments || []);
    } else {
      resetTimeline(false);
    }
    $('result-heading').focus({ preventScroll: true });
    // On a narrow screen the answer is below the form: bring it into view.
    const top = $('answer').getBoundingClientRect().top;
    if (top > window.innerHeight * 0.8) $('answer').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  function place(node, start, end) {
    const total = length();
    node.style.left = `${Math.max(0, start / total) * 100}%`;
    node.style.width = `${Math.max(0, Math.min(total, end) - start) / total * 100}%`;
  }
  function seek(to) {
    const video = $('video');
    video.currentTime = to;
    follow();
  }

  function drawClips(clips) {
    const rail = $('clip-rail');
    rail.querySelectorAll('button').forEach((b) => b.remove());
    clips.forEach((clip, i) => {
      const button = el('button', 'clip');
      button.type = 'button';
      const label = `Clip ${i + 1}: ${seconds(clip.start_s)} to ${seconds(clip.end_s)}`;
      button.setAttribute('aria-label', label);
      button.title = label;
      place(button, clip.start_s, clip.end_s);
      button.addEventListener('click', () => seek(clip.start_s));
      rail.append(button);
    });
  }

  // --- The timeline strip ---------------------------------------------------------------------------------
  const timeline = { windows: [], colours: new Map() };
  function colour(label) {
    if (!timeline.colours.has(label)) {
      timeline.colours.set(label, PALETTE[timeline.colours.size % PALETTE.length]);
      const item = el('li');
      const swatch = el('span', 'swatch');
      swatch.style.background = timeline.colours.get(label);
      item.append(swatch, document.createTextNode(label));
      $('legend').append(item);
    }
    return timeline.colours.get(label);
  }
  function resetTimeline(visible) {
    timeline.windows = [];
    timeline.colours.clear();
    $('strip').querySelectorAll('.window, .segment').forEach((n) => n.remove());
    $('legend').replaceChildren();
    $('tip').hidden = true;
    $('timeline').hidden = !visible;
  }
  function addWindow(w) {
    const top = (w.predictions || [])[0];
    if (!top) return;
    timeline.windows.push(w);
    const cell = el('button', 'window');
    cell.type = 'button';
    cell.style.background = colour(top.label);
    if (top.score < 0.5) cell.classList.add('weak');
    const label = `${seconds(w.start_s)} to ${seconds(w.end_s)}: ${top.label} ${pct(top.score)}`;
    cell.setAttribute('aria-label', label);
    place(cell, w.start_s, w.end_s);
    const tip = () => showTip(cell, w);
    cell.addEventListener('mouseenter', tip);
    cell.addEventListener('focus', tip);
    cell.addEventListener('mouseleave', () => { $('tip').hidden = true; });
    cell.addEventListener('blur', () => { $('tip').hidden = true; });
    cell.addEventListener('click', () => seek(w.start_s));
    cell.dataset.start = w.start_s;
    cell.dataset.end = w.end_s;
    $('strip').append(cell);
    // A later window can lengthen a video whose length is not yet known: place every window again.
    if (!duration) for (const c of $('strip').querySelectorAll('.window')) place(c, Number(c.dataset.start), Number(c.dataset.end));
  }
  function drawSegments(segments) {
    const strip = $('strip');
    strip.querySelectorAll('.segment').forEach((n) => n.remove());
    for (const s of segments) {
      const node = el('div', 'segment', `${s.label} ${pct(s.score)}`);
      node.setAttribute('aria-hidden', 'true');
      place(node, s.start_s, s.end_s);
      strip.append(node);
    }
  }
  function showTip(cell, w) {
    const tip = $('tip');
    tip.replaceChildren(el('strong', null, `${seconds(w.start_s)} to ${seconds(w.end_s)}`));
    const list = el('ol');
    for (const p of w.predictions) list.append(el('li', null, `${p.label}: ${pct(p.score)}`));
    tip.append(list);
    tip.hidden = false;
    const box = $('timeline').getBoundingClientRect();
    const at = cell.getBoundingClientRect();
    const left = Math.min(Math.max(0, at.left - box.left), Math.max(0, box.width - tip.offsetWidth));
    tip.style.left = `${left}px`;
    tip.style.top = `${at.bottom - box.top + 6}px`;
  }

  // The playheads follow the video, every frame while it plays.
  function follow() {
    const video = $('video');
    const total = length();
    const at = `${Math.min(1, video.currentTime / total) * 100}%`;
    $('clip-head').style.left = at;
    $('strip-head').style.left = at;
  }
  const video = $('video');
  let frame = 0;
  const loop = () => { follow(); if (!video.paused) frame = requestAnimationFrame(loop); };
  video.addEventListener('play', () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(loop); });
  for (const name of ['seeked', 'timeupdate', 'loadedmetadata', 'pause']) video.addEventListener(name, follow);

  $('result-heading').tabIndex = -1;
  loadModel();
})();
