package guest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// criUpdate is what containerd 1.6's CRI sends the runc shim for `crictl
// update --memory 32m`: the container's whole linux.resources, whose device
// rules are containerd's default lone deny-all (no swap controller file in
// a v2 guest without swap: no "swap").
const criUpdate = `{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":33554432},"cpu":{}}`

// devicesProbe opens each device for writing without writing (opening
// kmsg for reading would need CAP_SYSLOG, whatever the device rules) and
// reads /dev/zero.
const devicesProbe = `for d in null zero urandom ptmx kmsg; do (: >/dev/$d) 2>/dev/null && echo $d-ok || echo $d-denied; done; head -c 2 /dev/zero | wc -c`

// deviceRuntimes are the runtimes the device tests run under: hull with
// each cgroup driver, runc as the control.
var deviceRuntimes = []struct {
	name, runtime string
	systemd       bool
}{
	{"hull-cgroupfs", "", false},
	{"hull-systemd", "", true},
	{"runc", "runc", false},
}

// startDeviceContainer creates and starts `sleep 120` under the runtime of
// rt, with its spec edited, and deletes it at the end of the test.
func startDeviceContainer(t *testing.T, rt string, systemd bool, prefix string, edit func(*specs.Spec)) (*hullCmd, string) {
	t.Helper()
	h, id, path := runtimeUnderTest(t, rt, systemd, prefix)
	bundle := guestBundle(t, path, "sleep", "120")
	editSpec(t, bundle, edit)
	h.must("create", "--bundle", bundle, id)
	t.Cleanup(func() { h.run("delete", "--force", id) })
	h.must("start", id)
	return h, id
}

// runtimeUnderTest is the runtime rt ("": hull, with the systemd driver
// or not), a new container id with prefix, and that container's
// cgroupsPath for the driver.
func runtimeUnderTest(t *testing.T, rt string, systemd bool, prefix string) (h *hullCmd, id, cgroupsPath string) {
	t.Helper()
	h = newHull(t, systemd)
	if rt != "" {
		bin, err := exec.LookPath(rt)
		if err != nil {
			t.Skipf("no %s in the guest: %v", rt, err)
		}
		h.bin = bin
	}
	id = randomName(t, prefix)
	cgroupsPath = "/hull-guest/" + id
	if systemd {
		cgroupsPath = "system.slice:hull-guest:" + id
	}
	return h, id, cgroupsPath
}

// TestUpdateDevicesV2: on cgroup v2 an update carrying containerd's device
// rules leaves the device filter as create made it, as runc (the control)
// does: the default devices keep working, a device listed in
// linux.devices that the rules deny stays denied, an added rule has no
// effect, a bad one is not looked at, and the update's other resources
// apply.
func TestUpdateDevicesV2(t *testing.T) {
	inGuest(t)
	for _, tc := range deviceRuntimes {
		t.Run(tc.name, func(t *testing.T) {
			h, id := startDeviceContainer(t, tc.runtime, tc.systemd, "dev-", func(s *specs.Spec) {
				s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
			})
			var st specs.State
			if err := json.Unmarshal([]byte(h.must("state", id)), &st); err != nil {
				t.Fatal(err)
			}
			cg, err := ownCgroup(st.Pid)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(cgroupRoot, cg)
			probe := func(when, want string) {
				t.Helper()
				out := strings.Join(strings.Fields(h.must("exec", id, "sh", "-c", devicesProbe)), " ")
				if out != want {
					t.Errorf("%s: %q, want %q", when, out, want)
				}
			}
			base := "null-ok zero-ok urandom-ok ptmx-ok kmsg-denied 2"
			probe("after create", base)
			before := devicePrograms(t, dir)
			doc := filepath.Join(t.TempDir(), "update.json")
			update := func(body string) (string, error) {
				if err := os.WriteFile(doc, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				return h.run("update", "--resources", doc, id)
			}
			if out, err := update(criUpdate); err != nil {
				t.Fatalf("CRI update: %v\n%s", err, out)
			}
			probe("after the CRI update", base)
			expectFile(t, dir, "memory.max", "33554432")
			after := devicePrograms(t, dir)
			t.Logf("device programs before %v, after %v", before, after)
			if len(after) != 1 {
				t.Errorf("device programs after the update: %v, want exactly one", after)
			}
			// As runc, hull leaves device rules alone on update:
			// rules added after create, as the NVIDIA hook's, must survive.
			if len(before) == 1 && len(after) == 1 && before[0] != after[0] {
				t.Errorf("device program replaced by an update: %v, then %v", before, after)
			}
			plus := `{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"rw"}]}`
			if out, err := update(plus); err != nil {
				t.Fatalf("update with a rule allowing c 1:11: %v\n%s", err, out)
			}
			probe("after an update allowing c 1:11 (device rules are not updated)", base)
			bad := `{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"x","access":"rwm"}],"memory":{"limit":16777216}}`
			if out, err := update(bad); err != nil {
				t.Errorf("update with a bad device rule, which update ignores: %v\n%s", err, out)
			}
			expectFile(t, dir, "memory.max", "16777216")
			probe("after the update with a bad rule", base)
		})
	}
}

func editSpec(t *testing.T, bundle string, edit func(*specs.Spec)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	edit(&s)
	if data, err = json.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// devicePrograms lists the ids of the device programs attached to dir
// (BPF_PROG_QUERY).
func devicePrograms(t *testing.T, dir string) []uint32 {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids := make([]uint32, 16)
	attr := struct {
		targetFd, attachType, queryFlags, attachFlags uint32
		progIDs                                       uint64
		progCnt, _                                    uint32
	}{targetFd: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE, progIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), progCnt: uint32(len(ids))}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_QUERY, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if errno != 0 {
		t.Fatalf("BPF_PROG_QUERY %s: %v", dir, errno)
	}
	return ids[:attr.progCnt]
}

// TestDevicesDeniedByDefaultV2: with no deny-all rule in the config (no
// device rules at all), the device filter still denies what the defaults
// do not allow, under hull's cgroupfs and systemd drivers as under runc
// (the control): v2's eBPF program once allowed what no rule matched.
func TestDevicesDeniedByDefaultV2(t *testing.T) {
	inGuest(t)
	for _, tc := range deviceRuntimes {
		t.Run(tc.name, func(t *testing.T) {
			h, id := startDeviceContainer(t, tc.runtime, tc.systemd, "dvd-", func(s *specs.Spec) {
				s.Linux.Resources.Devices = nil
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
			})
			out := strings.Join(strings.Fields(h.must("exec", id, "sh", "-c", "test -c /dev/kmsg && echo kmsg-made; "+devicesProbe)), " ")
			if want := "kmsg-made null-ok zero-ok urandom-ok ptmx-ok kmsg-denied 2"; out != want {
				t.Errorf("devices: %q, want %q", out, want)
			}
		})
	}
}
