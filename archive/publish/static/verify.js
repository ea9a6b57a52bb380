// Verify a file: SHA-256 in the browser (WebCrypto, no upload), then ask the archive.
// Results are built with DOM calls and textContent only: nothing from the server is HTML.
(function () {
  "use strict";
  var input = document.getElementById("file-input");
  var zone = document.getElementById("dropzone");
  var status = document.getElementById("verify-status");
  var result = document.getElementById("verify-result");
  if (!input) { return; }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }

  function link(href, text) {
    var a = el("a", text);
    a.setAttribute("href", href);
    return a;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function show(name, sha256, data) {
    result.replaceChildren();
    if (!data.found) {
      var miss = el("p", "Not in the archive: ", "verdict missing");
      miss.appendChild(el("bdi", name));
      miss.appendChild(document.createTextNode(" (SHA-256 " + sha256 + ")"));
      result.appendChild(miss);
      return;
    }
    var first = data.matches[0];
    var head = el("p", "", "verdict found");
    head.appendChild(document.createTextNode("This exact file is version " + first.seq + " of "));
    head.appendChild(el("bdi", first.document_path));
    head.appendChild(document.createTextNode(", archived at " + first.observed_at + "."));
    result.appendChild(head);
    var list = el("ul", undefined, "matches");
    data.matches.forEach(function (m) {
      var li = el("li");
      li.appendChild(link(String(m.version_url), "version " + m.seq));
      li.appendChild(document.createTextNode(" of "));
      var doc = link(String(m.document_url), "");
      doc.appendChild(el("bdi", m.document_path, "path"));
      li.appendChild(doc);
      li.appendChild(el("span", " (" + m.source + ", " + m.kind + ", archived at " + m.observed_at + ")", "muted"));
      list.appendChild(li);
    });
    result.appendChild(list);
    result.appendChild(el("p", "SHA-256 " + sha256, "hash"));
  }

  function check(file) {
    if (!window.crypto || !window.crypto.subtle) {
      status.textContent = "This browser cannot hash files here (WebCrypto needs https or localhost): paste the file's hash below instead.";
      return;
    }
    status.textContent = "Hashing " + file.name + "…";
    file.arrayBuffer()
      .then(function (buf) { return crypto.subtle.digest("SHA-256", buf); })
      .then(function (digest) {
        var sha256 = hex(digest);
        var url = input.getAttribute("data-lookup") + "?sha256=" + sha256;
        return fetch(url, { credentials: "same-origin" })
          .then(function (r) {
            if (!r.ok) { throw new Error("lookup failed: HTTP " + r.status); }
            return r.json();
          })
          .then(function (data) {
            status.textContent = "";
            show(file.name, sha256, data);
            document.body.setAttribute("data-verify", data.found ? "found" : "missing");
          });
      })
      .catch(function (err) { status.textContent = String(err.message || err); });
  }

  input.addEventListener("change", function () {
    if (input.files && input.files[0]) { check(input.files[0]); }
  });
  zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files && e.dataTransfer.files[0]) { check(e.dataTransfer.files[0]); }
  });
}());
