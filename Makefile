# hull: an OCI container runtime.
# Everything built or cached lives under _build/ (ignored by git).

GO        ?= go
BUILD     := $(CURDIR)/_build
HULL      := $(BUILD)/hull
STUBINIT  := $(BUILD)/hull-stubinit
STAGE     := $(BUILD)/hull-stage
NSPAWN    := $(BUILD)/hull-nspawn
ROOTFS    := $(BUILD)/rootfs/busybox
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFILES   := $(shell find . -name '*.go' -not -path './_build/*')
CFILES    := $(shell find libcontainer internal -name '*.c' -o -name '*.h')

CRITOOLS_VERSION := v1.37.0
CRITOOLS  := $(BUILD)/cri-tools-$(CRITOOLS_VERSION)

export HULL_BINARY  := $(HULL)
export HULL_ROOTFS  := $(ROOTFS)
export HULL_CRI_TOOLS := $(CRITOOLS)

FORCE:
.PHONY: FORCE
.PHONY: all build demo test test-libc unit e2e validate validate-guest bench test-guest test-guest-machines test-guest-rootless test-guest-engines test-engines test-cri cri-tools lint deps rootfs clean install install-machinectl nspawn-syscalls fuzz fuzz-smoke soak

all: build

build: $(HULL) $(NSPAWN) $(STUBINIT) $(STAGE)

# hull is linked statically (its C library, musl or glibc as below, and
# libseccomp; STATIC=0 links glibc and libseccomp dynamically): no dynamic
# loader at each start, and the pages a start maps are hull's own; measured
# A/B in docs/design.md ("A slim runtime binary").
# osusergo and netgo keep user, group and host lookups in Go: a static C
# library cannot load the NSS modules they would otherwise go through.
STATIC    ?= 1
HULLTAGS  := urfave_cli_no_docs osusergo netgo
# memprofilerate=0 from the first allocation: hull never reads a heap
# profile (the linker already turns it off, but only after the runtime has
# sampled its first allocations, which maps the profiler's 1.4 MB table);
# GODEBUG in the environment still overrides it. docs/design.md, "No heap
# profile sample".
# The go command passes the module's own compatibility settings the same
# way (go list's DefaultGODEBUG) and the last -X wins, so they go first.
comma     := ,
MODGODEBUG = $(shell $(GO) list -tags '$(HULLTAGS)' -f '{{.DefaultGODEBUG}}' ./cmd/hull)
HULLGODEBUG = $(if $(MODGODEBUG),$(MODGODEBUG)$(comma))memprofilerate=0
STATICLD  := -linkmode external -extldflags -static
HULLLDFLAGS = $(LDFLAGS) -X runtime.godebugDefault=$(HULLGODEBUG) $(if $(filter 1,$(STATIC)),$(STATICLD))

# The C library: static hull and hull-nspawn are linked against musl where
# musl-gcc is installed (tests/deps.sh installs it), as the C stage is, else
# against glibc. glibc's static start probes the CPU's caches with some
# hundred CPUIDs, each an exit to the hypervisor on a VM: 0.55 ms of CPU per
# process here, a twelfth of a `hull run` (docs/design.md, "hull on musl").
# musl ships no kernel or libseccomp headers and no libseccomp: MUSL_INC
# links the system's headers in, MUSL_LIB the system's libseccomp.a alone
# (its directory holds glibc's own libc.a and libpthread.a). The musl tag
# builds in libseccomp.a's one glibc-only symbol (libcontainer/seccomp).
MUSL_CC   := $(shell command -v musl-gcc 2>/dev/null)
MUSL_INC  := $(BUILD)/musl-include
MUSL_LIB  := $(BUILD)/musl-lib
HULL_CC   ?= $(if $(filter 1,$(STATIC)),$(or $(MUSL_CC),$(CC)),$(CC))
HULL_MUSL := $(filter musl-gcc,$(notdir $(HULL_CC)))
HULLENV   = CGO_ENABLED=1 CC='$(HULL_CC)' $(if $(HULL_MUSL),CGO_CFLAGS='-O2 -g -isystem $(MUSL_INC)' CGO_LDFLAGS='-L$(MUSL_LIB)')
HULLBTAGS = $(HULLTAGS)$(if $(HULL_MUSL), musl)
# Stamps: the kernel headers' links (the stage and hull on musl), the
# libseccomp links (hull on musl alone), and how hull is built, rewritten
# only when that changes so that a change of C library relinks.
MUSLHDRS  := $(BUILD)/musl-kernel-headers
MUSLSECC  := $(BUILD)/musl-libseccomp
HULLCONF  := $(BUILD)/hull-build.conf

$(MUSLHDRS): Makefile
	@mkdir -p $(MUSL_INC)
	for d in linux asm-generic $$($(CC) -print-multiarch)/asm; do \
		test -d /usr/include/$$d || { echo "no kernel headers at /usr/include/$$d (linux-libc-dev)" >&2; exit 1; }; \
		ln -sfn /usr/include/$$d $(MUSL_INC)/$$(basename $$d); done
	touch $@

$(MUSLSECC): $(MUSLHDRS)
	@mkdir -p $(MUSL_LIB)
	for h in seccomp.h seccomp-syscalls.h; do \
		test -f /usr/include/$$h || { echo "no /usr/include/$$h (libseccomp-dev)" >&2; exit 1; }; \
		ln -sfn /usr/include/$$h $(MUSL_INC)/$$h; done
	a=$$($(CC) -print-file-name=libseccomp.a) && test -f "$$a" || { echo "no libseccomp.a (libseccomp-dev)" >&2; exit 1; }; \
		ln -sfn "$$(readlink -f "$$a")" $(MUSL_LIB)/libseccomp.a
	touch $@

$(HULLCONF): FORCE
	@mkdir -p $(BUILD)
	@conf="CC=$(HULL_CC) STATIC=$(STATIC) tags=$(HULLBTAGS)"; \
		test "$$conf" = "$$(cat $@ 2>/dev/null)" || echo "$$conf" > $@

HULLDEPS  = $(GOFILES) $(CFILES) go.mod go.sum $(HULLCONF) $(if $(HULL_MUSL),$(MUSLSECC))

$(HULL): $(HULLDEPS)
	@mkdir -p $(BUILD)
	$(HULLENV) $(GO) build -trimpath -tags '$(HULLBTAGS)' -ldflags '$(HULLLDFLAGS)' -o $@ ./cmd/hull

# hull nspawn, convert and nspawn-hook: hull execs it from beside itself, so
# that the runtime's commands start without the converter's packages.
$(NSPAWN): $(HULLDEPS)
	@mkdir -p $(BUILD)
	$(HULLENV) $(GO) build -trimpath -tags '$(HULLBTAGS)' -ldflags '$(HULLLDFLAGS)' -o $@ ./cmd/hull-nspawn

# Static PID 1 of --as-pid2 (ProcessTwo=); hull finds it beside itself.
# -E main.entry (amd64): forks before Go's threads, so the payload is PID 2.
STUBLDFLAGS := -s -w $(if $(filter amd64,$(shell $(GO) env GOARCH)),-E main.entry)
$(STUBINIT): $(wildcard cmd/hull-stubinit/*.go cmd/hull-stubinit/*.s) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(STUBLDFLAGS)' -o $@ ./cmd/hull-stubinit

# The C stage and finisher as a small static program (libcontainer/nsenter,
# the same sources as hull's constructor); hull starts it from beside itself
# for the processes the finisher finishes (docs/design.md, "Why a C stage").
# STAGE_CFLAGS=-DHULL_FAULTS builds its fault points in (TestFaultsEveryPoint
# builds that variant beside its hullfaults hull: make STAGE=dir/hull-stage ...).
#
# It is linked against musl where musl-gcc is installed (tests/deps.sh
# installs it), else against glibc: musl's static start has none of glibc's
# CPU feature probing (each CPUID an exit to the hypervisor here), IFUNC
# relocations or tunables, and the program is 55 KB instead of 700: 21
# fewer page faults and about 0.6 ms less CPU per run (docs/design.md,
# "The C stage on musl"). musl ships no kernel headers; the build points
# it at the system's (linux-libc-dev) through a directory of links.
# (A musl cross compiler under another name brings its own kernel headers.)
STAGE_CFLAGS ?=
STAGE_CC  ?= $(or $(MUSL_CC),$(CC))
STAGE_MUSL := $(filter musl-gcc,$(notdir $(STAGE_CC)))
STAGESRC  := $(addprefix libcontainer/nsenter/,stage_main.c nsenter.c finish.c nsenter.h faults.h errtext.h)
$(STAGE): $(STAGESRC) $(if $(STAGE_MUSL),$(MUSLHDRS))
	@mkdir -p $(dir $@)
	$(STAGE_CC) $(if $(STAGE_MUSL),-isystem $(MUSL_INC)) -static -O2 -Wall -Wextra -std=gnu11 \
		-ffunction-sections -fdata-sections -Wl,--gc-sections -s $(STAGE_CFLAGS) -o $@ $(filter %.c,$^)

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
test: build rootfs lint test-libc
	$(GO) test -count=1 -timeout 45m ./...

# The packages with C in them, tested linked as hull is (musl, static) when
# it is; go test links them against the system's glibc otherwise.
CPKGS     := ./libcontainer/seccomp ./libcontainer/sigcatch ./libcontainer/nsenter ./internal/threadmem ./internal/threadslack
test-libc: $(if $(HULL_MUSL),$(MUSLSECC))
	$(if $(HULL_MUSL),$(HULLENV) $(GO) test -count=1 -tags '$(HULLBTAGS)' -ldflags '$(STATICLD)' $(CPKGS),@echo "hull is not linked against musl: its C packages are tested by go test")

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

# hull against crun and runc, interleaved, in three regimes (back to back, warm,
# cold): one Markdown table of medians and ratios per regime, every sample in
# _build/bench.json. A short run: make bench BENCH_N=5 BENCH_FLAGS='-cases run,exec -regimes b2b';
# an A/B of two builds in one interleaved run: BENCH_FLAGS='-also hull-b=/path/to/hull'.
# The floor case's Go probes (tests/bench/floor.go) are built as hull is;
# go-lib-run starts its containers' C stage as hull does, from hull-stage
# beside it.
FLOORPROBES := go-start go-cli-linked go-cli go-lib-run
space     := $(subst ,, )
bench: build rootfs $(FLOORPROBES:%=$(BUILD)/floor/%) $(BUILD)/floor/hull-stage
	$(GO) run ./tests/bench -hull $(HULL) -rootfs $(ROOTFS) -json $(BUILD)/bench.json \
		$(if $(FLOORPROBES),-floor $(subst $(space),$(comma),$(foreach p,$(FLOORPROBES),$(p)=$(BUILD)/floor/$(p)))) $(BENCH_FLAGS)

$(BUILD)/floor/%: tests/bench/floor/%/main.go $(HULLDEPS)
	@mkdir -p $(@D)
	$(HULLENV) $(GO) build -trimpath -tags '$(HULLBTAGS)' -ldflags '$(HULLLDFLAGS)' -o $@ ./tests/bench/floor/$*

$(BUILD)/floor/hull-stage: $(STAGE)
	@mkdir -p $(@D)
	cp $< $@

# crictl and critest, built from cri-tools (Go module proxy) and cached.
cri-tools: $(CRITOOLS)/critest

$(CRITOOLS)/critest:
	sh tests/engines/cri-tools.sh $(CRITOOLS_VERSION) $(CRITOOLS)

# podman, Docker, containerd and its CRI (crictl) driving hull, runc as the
# control in every test; engine daemons one suite at a time.
test-engines: build rootfs cri-tools
	flock /tmp/hull-engines.lock $(GO) test -count=1 -timeout 30m -v ./tests/engines/

# critest through containerd's CRI with the runc and hull handlers, side by side.
test-cri: build rootfs cri-tools
	flock /tmp/hull-engines.lock env HULL_CRITEST=1 $(GO) test -count=1 -timeout 90m -v -run '^TestCritest$$' ./tests/engines/

# cgroup v2 and the systemd driver, tested in a Debian guest under qemu.
test-guest: build rootfs
	HULL_GUEST_TIMEOUT=$${HULL_GUEST_TIMEOUT:-1500} sh tests/guest/run.sh

# Installs hull, hull-nspawn, the C stage, the stub init and the hull-nspawn@.service template.
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    := $(PREFIX)/bin
UNITDIR   ?= $(PREFIX)/lib/systemd/system
install: build
	install -D -m 0755 $(HULL) $(DESTDIR)$(BINDIR)/hull
	install -D -m 0755 $(NSPAWN) $(DESTDIR)$(BINDIR)/hull-nspawn
	install -D -m 0755 $(STUBINIT) $(DESTDIR)$(BINDIR)/hull-stubinit
	install -D -m 0755 $(STAGE) $(DESTDIR)$(BINDIR)/hull-stage
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@bindir@|$(BINDIR)|g' cmd/hull/units/hull-nspawn@.service.in >$(DESTDIR)$(UNITDIR)/hull-nspawn@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hull-nspawn@.service

# Makes machinectl start|enable (systemd-nspawn@.service) boot machines with hull.
SYSCONFUNITDIR ?= /etc/systemd/system
install-machinectl: install
	mkdir -p '$(DESTDIR)$(SYSCONFUNITDIR)/systemd-nspawn@.service.d'
	sed 's|@bindir@|$(BINDIR)|g' 'cmd/hull/units/systemd-nspawn@.service.d/hull.conf.in' >'$(DESTDIR)$(SYSCONFUNITDIR)/systemd-nspawn@.service.d/hull.conf'

# Machines booted with hull in the guest: hull nspawn -b, hull-nspawn@.service,
# machinectl, converted bundles under hull, runc and crun.
# The Debian rootfs travels as one tar file: 9p in TCG is slow per file.
test-guest-machines: build rootfs
	sh tests/rootfs/debian.sh $(BUILD)/debian-rootfs
	tar --acls --xattrs -C $(BUILD)/debian-rootfs -cf $(BUILD)/debian-rootfs.tar .
	HULL_GUEST_TIMEOUT=$${HULL_GUEST_TIMEOUT:-2400} sh tests/guest/run.sh bash tests/guest/machines.sh

# Rootless hull in the guest: a lingering user's delegated subtree,
# --systemd-cgroup through the user's systemd, rootless podman with the
# systemd cgroup manager; runc (and crun) as the control.
# Needs the guest image (make test-guest builds it): the extra packages are
# resolved against its dpkg status.
GUEST_DISK = $$(ls -d $${HULL_GUEST_IMAGES:-$(BUILD)/guest}/image-*/disk.img | head -n 1)
test-guest-rootless: build rootfs
	sh tests/guest/debs.sh "$(GUEST_DISK)" $(BUILD)/guest/rootless-debs uidmap dbus-user-session podman slirp4netns fuse-overlayfs catatonit
	sh tests/rootfs/debian.sh $(BUILD)/debian-rootfs
	tar --acls --xattrs -C $(BUILD)/debian-rootfs -cf $(BUILD)/debian-rootfs.tar .
	HULL_GUEST_TIMEOUT=$${HULL_GUEST_TIMEOUT:-1500} sh tests/guest/run.sh bash tests/guest/rootless.sh

# Engines as root on the users' platform (cgroup v2, systemd, AppArmor) in
# the guest: Docker (systemd cgroup driver, docker-default profile) and
# podman (systemd cgroup manager), each flow under hull and runc (and crun
# for podman) as the control. Needs the guest image, as test-guest-rootless.
test-guest-engines: build rootfs
	sh tests/guest/debs.sh "$(GUEST_DISK)" $(BUILD)/guest/engines-debs docker.io podman catatonit
	HULL_GUEST_TIMEOUT=$${HULL_GUEST_TIMEOUT:-1800} sh tests/guest/run.sh bash tests/guest/engines.sh

# Regenerates nspawnconv/sysfilter's group tables from the installed systemd.
nspawn-syscalls:
	cd nspawnconv/sysfilter && $(GO) run gen.go

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
	$(GO) vet -tags hullfaults ./libcontainer/faults ./libcontainer/nsenter
	$(GO) vet -tags musl ./libcontainer/seccomp
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf $(BUILD)
