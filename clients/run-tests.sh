#!/usr/bin/env bash
# Tests the R and Python clients against a real server: builds statgate,
# starts `statgate demo` on a free loopback port in a fresh directory, then
# runs the Python client's tests, the R client's tests and the README's
# "Use from R / Python" examples exactly as written, with the demo's
# tokens in ANALYST, RESEARCHER and ADMIN and its address in STATGATE_URL.
# Needs go, python3, Rscript with httr and jsonlite (Debian: r-base-core
# r-cran-httr r-cran-jsonlite); .ci/run installs them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d "${TMPDIR:-/tmp}/statgate-clients-XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== clients: build statgate"
go build -o "$work/statgate" ./cmd/statgate
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== clients: statgate demo on 127.0.0.1:$port (in $work)"
(cd "$work" && exec ./statgate demo --policy "$repo/policies/norway-synthetic.yaml" \
	--addr "127.0.0.1:$port" --metrics-addr "" --threads 2 >demo.out 2>demo.err) &
pid=$!
for _ in $(seq 1 240); do
	grep -q "msg=serving addr=" "$work/demo.err" 2>/dev/null && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "statgate demo exited:"; cat "$work/demo.out" "$work/demo.err"; exit 1
	fi
	sleep 0.5
done
grep -q "msg=serving addr=" "$work/demo.err" || { echo "statgate demo is not serving after 120 s"; cat "$work/demo.err"; exit 1; }
eval "$(sed -n 's/^ *export \(ANALYST\|RESEARCHER\|ADMIN\)=\([A-Za-z0-9_-]*\).*/export \1=\2/p' "$work/demo.out")"
export STATGATE_URL="http://127.0.0.1:$port"
[ -n "${RESEARCHER:-}" ] && [ -n "${ANALYST:-}" ] || { echo "no tokens in the demo's output"; cat "$work/demo.out"; exit 1; }

echo "== clients: README Python example (as written)"
python3 clients/readme_examples.py README.md python >"$work/readme_example.py"
(cd "$repo" && PYTHONPATH="$repo/clients/python" python3 "$work/readme_example.py")

echo "== clients: Python client tests"
python3 -m unittest discover -s clients/python/tests -v

echo "== clients: R package install"
mkdir -p "$work/rlib"
R CMD INSTALL --no-test-load --library="$work/rlib" clients/r >"$work/r-install.log" 2>&1 || { cat "$work/r-install.log"; exit 1; }
export R_LIBS="$work/rlib${R_LIBS:+:$R_LIBS}"

echo "== clients: README R example (as written)"
python3 clients/readme_examples.py README.md r >"$work/readme_example.R"
Rscript "$work/readme_example.R"

echo "== clients: R client tests"
Rscript clients/r/tests/test-client.R
echo "== clients: OK"
