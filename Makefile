# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test build bench-export

build:
	go build -o mailhaul ./cmd/mailhaul

demo:
	.ci/demo.sh

test:
	.ci/test.sh

bench-export:
	internal/bench/export.sh
