/* clamr-frames serve: pick a video of the folder, index it, ask a question, see the report (ClamrReport). */
(function () {
  "use strict";
  var el = window.ClamrDom.el;
  function api(path, body) {
    var opts = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
    });
  }
  var state = { video: null, videos: [], config: null };
  var root = document.getElementById("app");

  function build(cfg) {
    state.config = cfg;
    var head = el("header");
    head.appendChild(el("h1", null, "clamr-frames \u2014 " + cfg.folder));
    head.appendChild(el("div", { "class": "meta" }, "pick a video, index it, ask a question: the report shows which frames were picked and why"));
    root.appendChild(head);
    var form = el("div", { "class": "form" });
    var vids = el("div", { "class": "videos", id: "videos" });
    form.appendChild(vids);
    var ask = el("div", { "class": "ask" });
    var q = el("input", { type: "text", id: "question", placeholder: "Ask a question about the video" });
    ask.appendChild(q);
    var row = el("div", { "class": "row" });
    function select(id, values, label) {
      var l = el("label", null, label + " ");
      var s = el("select", { id: id });
      values.forEach(function (v) { s.appendChild(el("option", { value: v }, v || "scorer's default")); });
      l.appendChild(s); row.appendChild(l); return s;
    }
    var scorer = select("scorer", cfg.scorers, "scorer");
    // first entry "": the server runs the scorer's own default policy (and the report names it)
    var policy = select("policy", [""].concat(cfg.policies), "policy");
    var kl = el("label", null, "k "); var k = el("input", { type: "number", id: "k", value: 16, min: 1, max: 256, style: "width:64px" });
    kl.appendChild(k); row.appendChild(kl);
    var go = el("button", { id: "ask" }, "Select frames");
    row.appendChild(go);
    var idx = el("button", { id: "index" }, "Index video");
    row.appendChild(idx);
    ask.appendChild(row);
    var status = el("div", { "class": "status", id: "status" });
    ask.appendChild(status);
    form.appendChild(ask);
    root.appendChild(form);

    function run() {
      if (!state.video) { status.textContent = "pick a video first"; return; }
      status.textContent = "selecting\u2026"; status.className = "status";
      var t0 = performance.now();
      api("/api/select", { video: state.video, question: q.value, k: +k.value, scorer: scorer.value, policy: policy.value })
        .then(function (data) {
          status.textContent = data.picked.length + " frames of " + data.candidates.timestamps.length + " candidates in " +
            ((performance.now() - t0) / 1000).toFixed(2) + " s (selection " + data.meta.seconds + " s)";
          status.setAttribute("data-done", "1");
          window.ClamrReport.render(data, document.getElementById("report"));
          refresh();
        })
        .catch(function (e) { status.textContent = e.message; status.className = "status error"; });
    }
    go.addEventListener("click", run);
    q.addEventListener("keydown", function (ev) { if (ev.key === "Enter") run(); });
    idx.addEventListener("click", function () {
      if (!state.video) { status.textContent = "pick a video first"; return; }
      api("/api/index", { video: state.video, scorer: scorer.value }).then(refresh)
        .catch(function (e) { status.textContent = e.message; status.className = "status error"; });
    });
  }

  function drawVideos() {
    var vids = document.getElementById("videos");
    vids.innerHTML = "";
    if (!state.videos.length) vids.appendChild(el("div", { "class": "status" }, "no videos in this folder"));
    state.videos.forEach(function (v) {
      var d = el("div", { "class": "video" + (v.path === state.video ? " selected" : ""), "data-path": v.path });
      d.appendChild(el("span", { "class": "name" }, v.path + (v.subtitles ? "  (+" + v.subtitles + ")" : "")));
      if (v.state === "indexing") {
        var p = el("progress", { max: 1 }); if (v.progress !== undefined) p.value = v.progress; d.appendChild(p);
      }
      var label = v.state + (v.state === "indexed" && v.candidates ? " (" + v.candidates + ")" : "") + (v.error ? ": " + v.error : "");
      d.appendChild(el("span", { "class": "state" }, label));
      d.addEventListener("click", function () { state.video = v.path; drawVideos(); });
      vids.appendChild(d);
    });
  }

  var timer = null;
  function refresh() {
    return api("/api/videos").then(function (list) {
      state.videos = list;
      if (!state.video && list.length) state.video = list[0].path;
      drawVideos();
      var busy = list.some(function (v) { return v.state === "indexing"; });
      clearTimeout(timer);
      if (busy) timer = setTimeout(refresh, 700);
    });
  }

  api("/api/config").then(function (cfg) { build(cfg); return refresh(); })
    .catch(function (e) { root.appendChild(el("div", { "class": "error" }, "cannot reach the app: " + e.message)); });
})();
