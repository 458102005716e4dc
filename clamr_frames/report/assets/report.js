/* clamr-frames report: renders one selection from its JSON (embedded in the page, or given by the app). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MOD_COLORS = { asr: "#2e8b57", ocr: "#8e44ad", video: "#e07b00", other: "#7a8496" };

  var el = window.ClamrDom.el;
  function svg(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fmt(t) {
    t = Math.max(0, +t || 0);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var ss = (s < 10 ? "0" : "") + s.toFixed(1);
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + ss;
  }
  // query tokens (word pieces) -> the words of a text they match
  function normTok(t) { return String(t).toLowerCase().replace(/^##/, "").replace(/^\u0120|^\u2581/, "").replace(/[^\p{L}\p{N}]+/gu, ""); }
  var STOP = { the: 1, a: 1, an: 1, of: 1, to: 1, is: 1, in: 1, on: 1, and: 1, or: 1, what: 1, which: 1, does: 1, do: 1,
    query: 1, at: 1, it: 1, for: 1, by: 1, with: 1, be: 1, are: 1, was: 1, this: 1, that: 1, endoftext: 1 };
  function highlight(node, text, tokens, cls) {
    var toks = {};
    (tokens || []).forEach(function (t) { var n = normTok(t); if (n.length >= 2 && !STOP[n]) toks[n] = 1; });
    var parts = String(text || "").split(/(\s+)/);
    parts.forEach(function (p) {
      var w = p.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
      var hit = false;
      if (w.length >= 2) for (var t in toks) { if (w === t || (t.length >= 3 && w.indexOf(t) === 0 && w.length - t.length <= 1)) { hit = true; break; } }
      node.appendChild(hit ? el("mark", { "class": cls }, p) : document.createTextNode(p));
    });
  }

  function render(data, root) {
    root = root || document.getElementById("report");
    root.innerHTML = "";
    var cand = data.candidates || {}, ts = cand.timestamps || [], sc = cand.scores || [];
    var picked = data.picked || [];
    var meta = data.meta || {};
    var nCand = meta.num_candidates || ts.length;
    var queryWords = String(data.query_words || "").split(/\s+/);
    var video;

    function seek(t, j) {
      if (video) {
        try { video.currentTime = t; } catch (e) { /* not seekable yet */ }
      }
      root.dispatchEvent(new CustomEvent("clamr-seek", { detail: { time: t } }));
      var cards = root.querySelectorAll(".frame");
      for (var i = 0; i < cards.length; i++) cards[i].classList.toggle("active", i === j);
    }

    // header
    var head = el("header");
    head.appendChild(el("h1", null, data.question || "(no question)"));
    var m = el("div", { "class": "meta" });
    [["video", (data.video || {}).name], ["scorer", meta.scorer], ["policy", meta.policy], ["k", picked.length],
     ["candidates", nCand], ["ASR", meta.asr_source], ["OCR", meta.ocr === undefined ? null : (meta.ocr ? "on" : "off")],
     ["task", meta.task], ["id", meta.question_id]].forEach(function (p) {
      if (p[1] !== undefined && p[1] !== null && p[1] !== "") m.appendChild(el("span", null, p[0] + ": " + p[1]));
    });
    var back = data.index_href || meta.index_href;
    if (back) m.appendChild(el("a", { href: back }, "\u2190 all questions"));
    head.appendChild(m);
    if (data.options && data.options.length) head.appendChild(el("div", { "class": "meta" }, "options: " + data.options.join("  |  ")));
    if (meta.answer !== undefined && meta.answer !== null) {
      var ans = el("div", { "class": "answer" });
      ans.appendChild(document.createTextNode("answer: " + meta.answer + "   ground truth: " + (meta.ground_truth === undefined ? "?" : meta.ground_truth) + "   "));
      if (meta.correct === true || meta.correct === false) ans.appendChild(el("span", { "class": meta.correct ? "ok" : "bad" }, meta.correct ? "correct" : "wrong"));
      head.appendChild(ans);
    }
    root.appendChild(head);
    var main = el("main");
    root.appendChild(main);

    // player
    var pbox = el("section", { id: "player-box" });
    pbox.appendChild(el("h2", null, "Video"));
    var vinfo = data.video || {};
    if (vinfo.href) {
      video = el("video", { controls: "", preload: "metadata", id: "player" });
      video.src = vinfo.href;
      var note = el("div", { "class": "note", hidden: "" },
        "This browser cannot play " + (vinfo.name || "the video") + (vinfo.codec ? " (" + vinfo.codec + ")" : "") +
        " from " + vinfo.href + ": the timeline, frames and transcript still work; open the file in a video player.");
      video.addEventListener("error", function () { note.hidden = false; });
      var mime = vinfo.mime;
      if (mime && video.canPlayType && video.canPlayType(mime) === "") note.hidden = false;
      pbox.appendChild(video);
      pbox.appendChild(note);
    } else {
      pbox.appendChild(el("div", { "class": "note" }, "No video file linked."));
    }
    main.appendChild(pbox);

    // transcript
    var tbox = el("section", { id: "transcript-box" });
    tbox.appendChild(el("h2", null, "Transcript" + (meta.asr_source ? " (" + meta.asr_source + ")" : "")));
    var tr = el("div", { id: "transcript" });
    var cues = data.transcript || [];
    var pickedTimes = picked.map(function (p) { return p.timestamp; });
    var cueEls = [];
    if (!cues.length) tr.appendChild(el("div", { "class": "empty" }, "No transcript (no subtitles and no recognised speech)."));
    cues.forEach(function (c) {
      var isPicked = pickedTimes.some(function (t) { return t >= c.start - 0.5 && t <= c.end + 0.5; });
      var d = el("div", { "class": "cue" + (isPicked ? " picked" : ""), "data-start": c.start, title: isPicked ? "a picked frame is here" : "" });
      d.appendChild(el("span", { "class": "ts" }, fmt(c.start)));
      d.appendChild(document.createTextNode(c.text));
      d.addEventListener("click", function () { seek(c.start, -1); });
      tr.appendChild(d);
      cueEls.push([c.start, c.end, d]);
    });
    tbox.appendChild(tr);
    main.appendChild(tbox);

    // timeline
    var lbox = el("section", { id: "timeline-box" });
    lbox.appendChild(el("h2", null, "Score timeline"));
    var tl = el("div", { id: "timeline", "data-candidates": nCand });
    lbox.appendChild(tl);
    main.appendChild(lbox);
    var W = 1000, H = 190, PL = 42, PR = 8, PT = 8, PB = 22;
    var dur = Math.max(vinfo.duration || 0, ts.length ? ts[ts.length - 1] : 0, 1e-3);
    var series = [{ name: "score", values: sc, color: "#4a6fa5", width: 1.2 }];
    var mods = cand.modalities || {};
    Object.keys(mods).forEach(function (k) { series.push({ name: k, values: mods[k], color: MOD_COLORS[k] || "#999", width: 0.8, mod: true }); });
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (s) { s.values.forEach(function (v) { if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    picked.forEach(function (p) { if (isFinite(p.score)) { lo = Math.min(lo, p.score); hi = Math.max(hi, p.score); } });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { hi = lo + 1; }
    function X(t) { return PL + (W - PL - PR) * (t / dur); }
    function Y(v) { return PT + (H - PT - PB) * (1 - (v - lo) / (hi - lo)); }
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "score of " + nCand + " candidates" });
    (cand.gt_windows || []).forEach(function (w) {
      s.appendChild(svg("rect", { x: X(w[0]), y: PT, width: Math.max(2, X(w[1]) - X(w[0])), height: H - PT - PB, fill: "#f2b134", opacity: 0.35, "class": "gt" }));
    });
    var shots = cand.shots || [];
    for (var i = 0; i < shots.length; i++) {
      var a0 = shots[i], a1 = i + 1 < shots.length ? shots[i + 1] : dur;
      if (i % 2 === 1) s.appendChild(svg("rect", { x: X(a0), y: PT, width: Math.max(0.5, X(a1) - X(a0)), height: H - PT - PB, fill: "#e9edf3", "class": "shot" }));
    }
    // axes
    s.appendChild(svg("line", { x1: PL, y1: H - PB, x2: W - PR, y2: H - PB, stroke: "#99a" }));
    s.appendChild(svg("line", { x1: PL, y1: PT, x2: PL, y2: H - PB, stroke: "#99a" }));
    for (var g = 0; g <= 5; g++) {
      var tt = dur * g / 5, tx = svg("text", { x: X(tt), y: H - 6, "font-size": 11, "text-anchor": g === 0 ? "start" : (g === 5 ? "end" : "middle"), fill: "#667" });
      tx.textContent = fmt(tt); s.appendChild(tx);
    }
    [lo, hi].forEach(function (v, n) { var ty = svg("text", { x: PL - 4, y: n ? PT + 10 : H - PB, "font-size": 10, "text-anchor": "end", fill: "#667" }); ty.textContent = v.toFixed(2); s.appendChild(ty); });
    var groups = {};
    series.forEach(function (se) {
      var pts = [];
      for (var i = 0; i < ts.length && i < se.values.length; i++) if (isFinite(se.values[i])) pts.push(X(ts[i]).toFixed(1) + "," + Y(se.values[i]).toFixed(1));
      var pl = svg("polyline", { points: pts.join(" "), fill: "none", stroke: se.color, "stroke-width": se.width, "class": "series series-" + se.name, "data-points": pts.length });
      if (se.mod) pl.setAttribute("opacity", "0.75");
      groups[se.name] = pl;
      s.appendChild(pl);
    });
    var cursor = svg("line", { x1: PL, y1: PT, x2: PL, y2: H - PB, stroke: "#1d2330", "stroke-width": 1, opacity: 0.5, "class": "cursor" });
    s.appendChild(cursor);
    picked.forEach(function (p, j) {
      var c = svg("circle", { cx: X(p.timestamp), cy: Y(p.score), r: 4.5, fill: "#d1495b", stroke: "#fff", "stroke-width": 1, "class": "pick", "data-time": p.timestamp });
      var ti = svg("title", {}); ti.textContent = fmt(p.timestamp) + "  score " + (+p.score).toFixed(3); c.appendChild(ti);
      c.addEventListener("click", function (ev) { ev.stopPropagation(); seek(p.timestamp, j); });
      s.appendChild(c);
    });
    s.addEventListener("click", function (ev) {
      var r = s.getBoundingClientRect();
      var x = (ev.clientX - r.left) * W / r.width;
      var t = (x - PL) / (W - PL - PR) * dur;
      if (ts.length) { // snap to the nearest candidate
        var best = 0, bd = Infinity;
        for (var i = 0; i < ts.length; i++) { var d = Math.abs(ts[i] - t); if (d < bd) { bd = d; best = i; } }
        t = ts[best];
      }
      seek(Math.max(0, t), -1);
    });
    tl.appendChild(s);
    var leg = el("div", { "class": "legend" });
    leg.appendChild(el("span", { "class": "count" }, nCand + " candidates, " + picked.length + " picked" + (shots.length ? ", " + shots.length + " shots" : "")));
    series.forEach(function (se) {
      var lab = el("label");
      var cb = el("input", { type: "checkbox" }); cb.checked = true;
      cb.addEventListener("change", function () { groups[se.name].style.display = cb.checked ? "" : "none"; });
      lab.appendChild(cb);
      var sw = el("i"); sw.style.background = se.color; lab.appendChild(sw);
      lab.appendChild(document.createTextNode(se.name === "score" ? "frame score" : se.name + " share"));
      leg.appendChild(lab);
    });
    leg.appendChild(el("span", null, "\u25CF picked"));
    if ((cand.gt_windows || []).length) leg.appendChild(el("span", null, "\u25A0 ground truth (yellow)"));
    tl.appendChild(leg);

    // picked frames
    var fbox = el("section", { id: "frames-box" });
    fbox.appendChild(el("h2", null, "Picked frames (" + picked.length + ")"));
    var fr = el("div", { id: "frames" });
    picked.forEach(function (p, j) {
      var card = el("div", { "class": "frame", "data-time": p.timestamp, "data-index": j });
      var img;
      if (p.thumb) { img = el("img", { src: p.thumb, alt: "frame at " + fmt(p.timestamp) }); }
      else { img = el("div", { "class": "noimg" }, "frame " + (p.frame_index === undefined ? "" : p.frame_index)); }
      img.classList.add("thumb");
      img.addEventListener("click", function () { seek(p.timestamp, j); });
      card.appendChild(img);
      var h = el("div", { "class": "head" });
      var tspan = el("span", { "class": "t" }, fmt(p.timestamp));
      tspan.addEventListener("click", function () { seek(p.timestamp, j); });
      h.appendChild(tspan);
      h.appendChild(el("span", null, "score " + (+p.score).toFixed(3)));
      card.appendChild(h);
      var matched = p.matched || {};
      [["asr", "ASR"], ["ocr", "OCR"]].forEach(function (kv) {
        if (!p[kv[0]]) return;
        var c = el("div", { "class": "ctx " + kv[0] });
        c.appendChild(el("b", null, kv[1]));
        // the query words the scorer matched in this modality; without a scorer's explanation, the query's words
        if (matched[kv[0]]) highlight(c, p[kv[0]], matched[kv[0]], kv[0]);
        else highlight(c, p[kv[0]], Object.keys(matched).length ? [] : queryWords, "query");
        card.appendChild(c);
      });
      var mk = Object.keys(matched);
      if (mk.length) {
        var w = el("div", { "class": "why" }, "matched: ");
        mk.forEach(function (mod) {
          var seen = {};
          matched[mod].forEach(function (t) {
            var n = normTok(t); if (!n || seen[n] || STOP[n]) return; seen[n] = 1;
            w.appendChild(el("span", { "class": "tok " + mod, title: mod }, mod + ": " + n));
          });
        });
        card.appendChild(w);
      }
      fr.appendChild(card);
    });
    fbox.appendChild(fr);
    main.appendChild(fbox);

    function follow(t) {
      cursor.setAttribute("x1", X(t)); cursor.setAttribute("x2", X(t));
      for (var i = 0; i < cueEls.length; i++) {
        var on = t >= cueEls[i][0] && t < cueEls[i][1], d = cueEls[i][2];
        if (on && !d.classList.contains("now")) tbox.scrollTop = Math.max(0, d.offsetTop - tbox.offsetTop - 60);  // keep it in view
        d.classList.toggle("now", on);
      }
    }
    if (video) video.addEventListener("timeupdate", function () { follow(video.currentTime); });
    root.addEventListener("clamr-seek", function (ev) { follow(ev.detail.time); });
    return { seek: seek };
  }

  window.ClamrReport = { render: render, fmt: fmt };
  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("clamr-data");
    if (node) render(JSON.parse(node.textContent), document.getElementById("report"));
  });
})();
