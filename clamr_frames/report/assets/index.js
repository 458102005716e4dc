/* clamr-frames report index: a table of questions, sortable by column, filterable to wrong answers. */
(function () {
  "use strict";
  var el = window.ClamrDom.el;
  function shown(v) {
    if (v === true) return "yes"; if (v === false) return "no";
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Math.abs(v) < 1 && v !== 0 ? v.toFixed(2) : String(Math.round(v * 100) / 100);
    return String(v);
  }
  function render(data, root) {
    var cols = data.columns, rows = data.rows;
    var state = { key: null, dir: 1, wrong: false, text: "" };
    root.innerHTML = "";
    var head = el("header");
    head.appendChild(el("h1", null, data.title || "clamr-frames report"));
    head.appendChild(el("div", { "class": "meta" }, rows.length + " questions" + (data.source ? " from " + data.source : "")));
    root.appendChild(head);
    var ctl = el("div", { "class": "controls" });
    var wl = el("label"); var wcb = el("input", { type: "checkbox", id: "wrong-only" });
    wl.appendChild(wcb); wl.appendChild(document.createTextNode(" wrong answers only"));
    ctl.appendChild(wl);
    var q = el("input", { type: "search", placeholder: "filter (question, video, task)", id: "filter", size: 40 });
    ctl.appendChild(q);
    var count = el("span", { id: "count" });
    ctl.appendChild(count);
    root.appendChild(ctl);
    var wrap = el("div", { "class": "wrap" });
    var table = el("table", { "class": "index" });
    var thead = el("thead"), tr = el("tr"), ths = [];
    cols.forEach(function (c) {
      var th = el("th", { "data-key": c.key }, c.label);
      th.addEventListener("click", function () {
        state.dir = state.key === c.key ? -state.dir : 1; state.key = c.key; draw();
      });
      ths.push(th); tr.appendChild(th);
    });
    thead.appendChild(tr); table.appendChild(thead);
    var tbody = el("tbody"); table.appendChild(tbody);
    wrap.appendChild(table); root.appendChild(wrap);
    wcb.addEventListener("change", function () { state.wrong = wcb.checked; draw(); });
    q.addEventListener("input", function () { state.text = q.value.toLowerCase(); draw(); });
    function cmp(a, b) {
      var x = a[state.key], y = b[state.key];
      if (x === y) return 0; if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
      if (typeof x === "boolean") { x = +x; y = +y; }
      return (x < y ? -1 : 1) * state.dir;
    }
    function draw() {
      var list = rows.filter(function (r) {
        if (state.wrong && r.correct !== false) return false;
        if (state.text && (String(r.question) + " " + r.video + " " + r.task).toLowerCase().indexOf(state.text) < 0) return false;
        return true;
      });
      if (state.key) list = list.slice().sort(cmp);
      ths.forEach(function (th) {
        th.className = th.getAttribute("data-key") === state.key ? (state.dir > 0 ? "sorted-asc" : "sorted-desc") : "";
      });
      tbody.innerHTML = "";
      var frag = document.createDocumentFragment();
      list.forEach(function (r) {
        var row = el("tr", { "data-correct": String(r.correct) });
        cols.forEach(function (c) {
          var td = el("td");
          if (c.key === "question" && r.href) { td.appendChild(el("a", { href: r.href }, r.question)); }
          else if (c.key === "correct" && (r.correct === true || r.correct === false)) { td.appendChild(el("span", { "class": r.correct ? "ok" : "bad" }, r.correct ? "correct" : "wrong")); }
          else td.textContent = shown(r[c.key]);
          row.appendChild(td);
        });
        frag.appendChild(row);
      });
      tbody.appendChild(frag);
      count.textContent = list.length + " shown";
    }
    draw();
  }
  window.ClamrIndex = { render: render };
  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("clamr-index");
    if (node) render(JSON.parse(node.textContent), document.getElementById("report"));
  });
})();
