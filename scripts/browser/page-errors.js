// Loaded as a classic script by portable.html and train.html, before their module: module load and
// link errors (a missing file or export) never reach the module's own catch, so they are written to
// the page's #result here, where the headless checks read the outcome.
addEventListener("error", (e) => {
  document.getElementById("result").textContent = `ERROR ${e.message} (${e.filename}:${e.lineno})`;
});
