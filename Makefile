# hull: an OCI container runtime.
# Everything built or cached lives under _build/ (ignored by git).

GO        ?= go
BUILD     := $(CURDIR)/_build
HULL      := $(BUILD)/hull
STUBINIT  := $(BUILD)/hull-stubinit
ROOTFS    := $(BUILD)/rootfs/busybox
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFILES   := $(shell find . -name '*.go' -not -path './_build/*')
CFILES    := $(shell find libcontainer -name '*.c' -o -name '*.h')

export HULL_BINARY  := $(HULL)
export HULL_ROOTFS  := $(ROOTFS)

.PHONY: all build demo test unit e2e validate validate-guest bench test-guest lint deps rootfs clean fuzz fuzz-smoke soak

all: build

build: $(HULL) $(STUBINIT)

$(HULL): $(GOFILES) $(CFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build -trimpath -tags urfave_cli_no_docs -ldflags '$(LDFLAGS)' -o $@ ./cmd/hull

# Static PID 1 of --as-pid2 (ProcessTwo=); hull finds it beside itself.
# -E main.entry (amd64): forks before Go's threads, so the payload is PID 2.
STUBLDFLAGS := -s -w $(if $(filter amd64,$(shell $(GO) env GOARCH)),-E main.entry)
$(STUBINIT): $(wildcard cmd/hull-stubinit/*.go cmd/hull-stubinit/*.s) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(STUBLDFLAGS)' -o $@ ./cmd/hull-stubinit

rootfs: $(ROOTFS)/.hull-rootfs

$(ROOTFS)/.hull-rootfs: tests/rootfs/busybox.sh
	sh tests/rootfs/busybox.sh $(ROOTFS)

# Installs what building and testing need (Debian/Ubuntu, as root).
deps:
	sh tests/deps.sh

# Builds hull, makes a busybox bundle and runs a container that shows it is isolated.
demo: deps build rootfs
	sh tests/demo.sh $(HULL) $(ROOTFS)

# Lint, unit tests, end-to-end tests against real containers, and the conformance gate.
test: build rootfs lint
	$(GO) test -count=1 ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests)

e2e: build rootfs
	$(GO) test -count=1 -v ./tests/...

# The OCI runtime-tools validation suite against hull, runc and crun, side by side.
validate: build rootfs
	sh tests/validate/run.sh

# The same suite in the cgroup v2 guest (about 25 minutes under emulation).
validate-guest: build rootfs
	sh tests/validate/guest.sh

# hull against runc and crun: medians and ratios of each lifecycle step.
bench: build rootfs
	$(GO) run ./tests/bench -hull $(HULL) -rootfs $(ROOTFS)

# cgroup v2 and the systemd driver, tested in a Debian guest under qemu.
test-guest: build rootfs
	sh tests/guest/run.sh

# Every fuzz target for FUZZTIME each (crashers land in testdata/fuzz/ and
# are replayed by plain go test); fuzz-smoke runs each for a few seconds.
FUZZTIME ?= 3m
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) sh tests/fuzz/run.sh

fuzz-smoke:
	GO=$(GO) FUZZTIME=5s sh tests/fuzz/run.sh

# 1,000 sequential runs and 100 concurrent containers; reports leaks.
soak: build rootfs
	sh tests/soak/soak.sh

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf $(BUILD)
