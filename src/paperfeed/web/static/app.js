// The only script: load the related papers of a paper page after the page itself.
document.querySelectorAll("[data-related-src]").forEach(function (box) {
  fetch(box.getAttribute("data-related-src"), {credentials: "same-origin"})
    .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
    .then(function (html) { box.innerHTML = html; })
    .catch(function () { /* keep the plain link */ });
});
