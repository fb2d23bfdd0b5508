// Browser runner for the portable cases: the same `cases` lists that node:test runs on Node, Deno and
// Bun. `?suites=linalg,autodiff` picks the packages (default: all four); the verdict goes into
// `<pre id="result">` as `PORTABLE passed=N failed=M`, which scripts/ci-portable.sh reads from the DOM.
const log = document.getElementById("log");
const result = document.getElementById("result");
const say = (line) => {
  log.textContent += `${line}\n`;
};

const requested = new URLSearchParams(location.search).get("suites");
const suites = requested ? requested.split(",").filter(Boolean) : ["linalg", "autodiff", "nn", "ekfac"];
let passed = 0;
let failed = 0;
for (const suite of suites) {
  let cases;
  try {
    ({ cases } = await import(`/packages/${suite}/test/portable/cases.ts`));
  } catch (e) {
    failed++;
    say(`FAIL ${suite}: could not load its cases: ${e?.stack ?? e}`);
    continue;
  }
  for (const c of cases) {
    try {
      await c.run();
      passed++;
      say(`ok   ${suite}: ${c.name}`);
    } catch (e) {
      failed++;
      say(`FAIL ${suite}: ${c.name}\n     ${String(e?.stack ?? e).replaceAll("\n", "\n     ")}`);
    }
  }
}
result.textContent = `PORTABLE passed=${passed} failed=${failed}`;
