#!/usr/bin/env bash
# The whole test suite: what the tests need installed, formatting, vet, and
# every test with the race detector. With CI=true, tests that need a real
# server fail instead of skipping when they cannot reach it.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/install-deps.sh

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== without cgo (the pure-Go zstd encoder)"
CGO_ENABLED=0 go vet ./format
CGO_ENABLED=0 go test -count=1 ./format

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
