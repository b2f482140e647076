#!/usr/bin/env bash
# `npx projen package:go`, second step: build the Go module jsii-pacmak generated into dist/go (with
# --code-only) the way jsii-pacmak itself would (`go mod tidy` + `go build ./...`), in a scratch copy, so
# dist/go stays exactly the module that would be published; then compile the example app examples/go
# against it.
#
# The module requires the lowest aws-cdk-go version the library supports (aws-cdk-lib's version in
# package.json). When the Go module proxy does not serve that version (the proxy this project's CI reaches
# serves github.com/aws/aws-cdk-go/awscdk/v2 only from v2.257.0 on), the build says so and uses the lowest
# version above it that the proxy does serve — what Go's minimal version selection gives any consumer
# whose own go.mod requires that version.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

AWSCDK=github.com/aws/aws-cdk-go/awscdk/v2
module_dir=$(ls -d dist/go/*/ 2>/dev/null | head -n 1)
if [ -z "$module_dir" ] || [ ! -f "$module_dir/go.mod" ]; then
  echo "go-build: no generated module in dist/go: run 'npx projen compile' and 'jsii-pacmak --target go --code-only' first" >&2
  exit 2
fi
command -v go >/dev/null || { echo "go-build: 'go' is not on PATH (https://go.dev/dl/)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$module_dir" "$work/module"
cd "$work/module"
required=$(go mod edit -json | node -e 'const m = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write((m.Require || []).find((r) => r.Path === process.argv[1])?.Version ?? "")' "$AWSCDK")
echo "go-build: $(go version | cut -d' ' -f3), module $(go list -m), requires $AWSCDK $required"

start=$SECONDS
if ! go mod download "$AWSCDK@$required" 2>"$work/download.err"; then
  if ! grep -qE '403|404|410|not available|not found' "$work/download.err"; then cat "$work/download.err" >&2; exit 1; fi
  # The proxy lists the versions it serves; take the lowest one above the requirement.
  served=$(cd "$work" && go list -m -versions "$AWSCDK" | tr ' ' '\n' | tail -n +2)
  fallback=$(printf '%s\n' "$served" | node -e '
    const req = process.argv[1].slice(1).split(".").map(Number);
    const key = (v) => v.slice(1).split(/[.-]/).slice(0, 3).map(Number);
    const newer = require("fs").readFileSync(0, "utf8").split("\n").filter((v) => /^v\d+\.\d+\.\d+$/.test(v))
      .filter((v) => { const k = key(v); for (let i = 0; i < 3; i++) if (k[i] !== req[i]) return k[i] > req[i]; return false; })
      .sort((a, b) => { const x = key(a), y = key(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
    process.stdout.write(newer[0] ?? "");' "$required")
  if [ -z "$fallback" ]; then
    echo "go-build: the Go proxy serves neither $AWSCDK $required nor a newer version" >&2
    cat "$work/download.err" >&2
    exit 1
  fi
  echo "go-build: the Go proxy does not serve $AWSCDK $required ($(grep -oE '403 Forbidden|404 Not Found|410 Gone' "$work/download.err" | head -n 1)); building against $fallback, the lowest newer version it serves"
  # The indirect requirements pacmak recorded belong to $required's dependency graph: let tidy recompute them.
  for m in $(go mod edit -json | node -e 'const m = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write((m.Require || []).filter((r) => r.Indirect).map((r) => r.Path).join(" "))'); do
    go mod edit -droprequire="$m"
  done
  go mod edit -require="$AWSCDK@$fallback"
fi
go mod tidy
echo "go-build: go mod tidy done ($((SECONDS - start)) s)"
start=$SECONDS
go build ./...
go vet ./...
echo "go-build: go build ./... and go vet ./... ok ($((SECONDS - start)) s)"

# The example app (examples/go), a consumer module of the one just built: `go vet` compiles and checks it
# without linking a binary (running it would need aws-cdk-go at the library's pinned version).
if [ -f "$root/examples/go/go.mod" ]; then
  start=$SECONDS
  module=$(go list -m)
  cp -r "$root/examples/go" "$work/example"
  cd "$work/example"
  go mod edit -replace="$module=../module"
  if [ -n "${fallback:-}" ]; then go mod edit -require="$AWSCDK@$fallback"; fi
  go mod tidy
  go vet ./...
  echo "go-build: examples/go compiles and vets against it ($((SECONDS - start)) s)"
fi
