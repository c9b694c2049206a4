# The two commands of the README:
#   make run   installs what is needed, builds (Release) and runs etcd as a
#              single member (127.0.0.1:2379 / 2380, data dir default.etcd)
#   make test  installs what is needed, builds and runs every test
# CI runs `make test` (.ci/run).

.PHONY: all deps build run test format format-check clean

all: build

deps:
	scripts/install-deps

build: deps
	scripts/build release

# Builds only the server it runs (not the tests, benchmarks and simulator).
run: deps
	scripts/build release etcd
	build/bin/etcd --name default --data-dir default.etcd \
	  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	  --initial-cluster default=http://127.0.0.1:2380

test: deps
	scripts/test

format:
	scripts/format

format-check:
	scripts/format --check

clean:
	rm -rf build build-asan build-tsan
