/* clamr-frames pages: the DOM helper shared by the report, its index and the serve app (inlined before them). */
(function () {
  "use strict";
  // an element with attributes and, unless text is null or undefined, its text (never parsed as HTML)
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  window.ClamrDom = { el: el };
})();
