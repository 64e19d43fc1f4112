#!/usr/bin/env bash
# Runs the comparison benchmarks (6 rounds, each running every benchmark
# once, so that a machine whose speed drifts during the run biases no
# benchmark against another), feeds benchstat, and writes RESULTS.md with
# the machine, the Go version and the date.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
command -v benchstat >/dev/null || go install golang.org/x/perf/cmd/benchstat@latest
raw=results.txt
if [ "${1:-}" != "--render" ]; then # --render: rewrite RESULTS.md from the last results.txt
  go test -c -o bench.test ./
  : > "$raw"
  for round in 1 2 3 4 5 6; do
    echo "round $round" >&2
    ./bench.test -test.run XX -test.bench 'Verify|HTTP|ToolsCall|AuthorizationServer|DPoP' -test.benchtime 0.5s -test.benchmem | tee -a "$raw"
  done
  ./bench.test -test.run XX -test.bench 'Rotation' -test.benchtime 3x | tee -a "$raw"
  rm -f bench.test
fi
{
  echo "# Benchmark results"
  echo
  echo "Produced by \`bench/run.sh\` in one run on $(date -u +%Y-%m-%d)."
  echo
  echo "- machine: $(uname -sm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- $(go version)"
  echo "- peers: $(go list -m -f '{{.Path}} {{.Version}}' github.com/auth0/go-jwt-middleware/v2 github.com/golang-jwt/jwt/v5 github.com/MicahParks/keyfunc/v3 github.com/coreos/go-oidc/v3 | paste -sd, - | sed 's/,/, /g')"
  echo
  echo "Every implementation verifies the same tokens against the same JWKS served over loopback."
  echo "\`mcpauth-cached\` is a repeated token (the validated-token cache); \`mcpauth-uncached\` verifies the"
  echo "signature every time. Rotation spaces rotations 2.5 s apart with mcpauth's rate window at 2 s."
  echo "\`AuthorizationServer\` is the authorization-code core of the development server and the proxy: issuing"
  echo "a code and redeeming it (PKCE, an ES256 access token, a refresh token), with the in-memory store and"
  echo "with Redis (redis-server on loopback; a redemption is one round trip, a script), beside ory/fosite"
  echo "$(go list -m -f '{{.Version}}' github.com/ory/fosite) with the same flow: PKCE S256 enforced, ES256 JWT access tokens (its RFC 9068"
  echo "strategy), refresh tokens for offline_access, its in-memory store, client secrets compared as they are"
  echo "(fosite's default bcrypt would be measured instead of the server)."
  echo "\`DPoP\` pairs a DPoP request (a cached bound token, a fresh ES256 proof) with a bearer request, and the proof"
  echo "check alone with an uncached ES256 token verification."
  echo
  go run ./cmd/summarize < "$raw"
  echo
  echo "## All benchmarks (benchstat)"
  echo
  echo '```'
  benchstat "$raw"
  echo '```'
} > RESULTS.md
echo "wrote bench/RESULTS.md"
