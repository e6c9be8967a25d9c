package oci

import (
	"encoding/json"
	"errors"
	"math/rand"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/validate"
)

// runtimeToolsLinux is what hull called runtime-tools' validator for before
// validateLinux replaced it: CheckLinux, minus the hostname, devices,
// sysctls, a memory reservation and a swap of 0, which hull judges itself (runtime-tools wants a *new* UTS
// namespace for a hostname, and refuses fifo devices with numbers, which
// its own suite creates; it wants new namespaces for net.* and fs.mqueue.*
// sysctls, where runc and crun also take joined ones, as engines send;
// runc reads swap 0 as unset and writes a reservation above the limit).
func runtimeToolsLinux(t testing.TB, spec *specs.Spec) error {
	c := *spec
	c.Hostname, c.Domainname = "", ""
	if spec.Linux != nil {
		l := *spec.Linux
		l.Devices, l.Sysctl = nil, nil
		if r := l.Resources; r != nil && r.Memory != nil {
			m := *r.Memory
			m.Reservation = nil // runc writes one above the limit
			if m.Swap != nil && *m.Swap == 0 {
				m.Swap = nil // runc reads 0 as unset
			}
			rc := *r
			rc.Memory = &m
			l.Resources = &rc
		}
		c.Linux = &l
	}
	v, err := validate.NewValidator(&c, ".", false, "linux")
	if err != nil {
		t.Fatal(err)
	}
	return errorOrNil(v.CheckLinux())
}

// errorOrNil is nil for runtime-tools' multierror that holds no error
// (CheckLinux returns one whenever linux.resources is set).
func errorOrNil(err error) error {
	var multi interface{ ErrorOrNil() error }
	if errors.As(err, &multi) {
		return multi.ErrorOrNil()
	}
	return err
}

// sameVerdict fails unless hull and runtime-tools agree on a spec that
// passes hull's common checks: no rule of runtime-tools is lost, and hull
// adds none to them.
func sameVerdict(t *testing.T, spec *specs.Spec, what string) {
	t.Helper()
	if validateCommon(spec) != nil {
		return
	}
	hull, rt := validateLinux(spec.Linux), runtimeToolsLinux(t, spec)
	if (hull == nil) != (rt == nil) {
		data, _ := json.Marshal(spec.Linux)
		t.Errorf("%s: hull says %v, runtime-tools says %v\nlinux: %s", what, hull, rt, data)
	}
}

func TestValidateLinuxNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*specs.Linux)
		want string
	}{
		{"mappings with a joined userns", func(l *specs.Linux) {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
			l.GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, "linux.gidMappings"},
		{"swap below limit", func(l *specs.Linux) {
			lim, swap := int64(200), int64(100)
			l.Resources.Memory = &specs.LinuxMemory{Limit: &lim, Swap: &swap}
		}, "linux.resources.memory.swap 100"},
		{"device rule type", func(l *specs.Linux) {
			l.Resources.Devices = append(l.Resources.Devices, specs.LinuxDeviceCgroup{Type: "p", Access: "r"})
		}, `linux.resources.devices[1].type "p"`},
		{"device rule access", func(l *specs.Linux) {
			l.Resources.Devices = append(l.Resources.Devices, specs.LinuxDeviceCgroup{Type: "c", Access: "rx"})
		}, `linux.resources.devices[1].access "rx"`},
		{"weight device without weight", func(l *specs.Linux) {
			l.Resources.BlockIO = &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{}}}
		}, "linux.resources.blockIO.weightDevice[0]"},
		{"masked relative", func(l *specs.Linux) { l.MaskedPaths = append(l.MaskedPaths, "proc/kcore") }, `"proc/kcore"`},
		{"readonly relative", func(l *specs.Linux) { l.ReadonlyPaths = []string{"proc/sys"} }, `linux.readonlyPaths[0] "proc/sys"`},
		{"mount label z and Z", func(l *specs.Linux) { l.MountLabel = "z,Z" }, `linux.mountLabel "z,Z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.edit(s.Linux)
			err := Validate(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.want)
			}
			sameVerdict(t, s, tc.name)
		})
	}
}

// TestValidateLinuxAsRuntimeTools runs hull's rules and runtime-tools' on
// specs drawn at random from the values each rule looks at.
func TestValidateLinuxAsRuntimeTools(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		s := DefaultSpec()
		randomLinux(r, s.Linux)
		sameVerdict(t, s, "random spec")
		if t.Failed() {
			return
		}
	}
}

// FuzzValidateLinux: runtime-tools and hull agree on any config that
// decodes.
func FuzzValidateLinux(f *testing.F) {
	base, _ := json.Marshal(DefaultSpec())
	f.Add(base)
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"linux":{"sysctl":{"net.a":"1","fs.mqueue.x":"2"},"resources":{"memory":{"limit":-1,"swap":5}}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"linux":{"namespaces":[{"type":"user","path":"/x"}],"uidMappings":[{"size":1}],"maskedPaths":["a"],"mountLabel":"zZ"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		sameVerdict(t, &s, "fuzz input")
	})
}

func randomLinux(r *rand.Rand, l *specs.Linux) {
	pick := func(vals ...string) string { return vals[r.Intn(len(vals))] }
	var nss []specs.LinuxNamespace
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.UserNamespace, specs.CgroupNamespace} {
		switch r.Intn(3) {
		case 1:
			nss = append(nss, specs.LinuxNamespace{Type: typ})
		case 2:
			nss = append(nss, specs.LinuxNamespace{Type: typ, Path: "/proc/1/ns/" + string(typ)})
		}
	}
	l.Namespaces = nss
	if r.Intn(3) == 0 {
		l.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
	}
	if r.Intn(3) == 0 {
		l.GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
	}
	l.Sysctl = map[string]string{}
	for j := r.Intn(3); j > 0; j-- {
		l.Sysctl[pick("net.ipv4.ip_forward", "fs.mqueue.msg_max", "kernel.shmmax", "vm.x")] = "1"
	}
	mem := func() *int64 {
		v := []int64{-1, 0, 1, 100, 200}[r.Intn(5)]
		return &v
	}
	l.Resources = &specs.LinuxResources{}
	if r.Intn(2) == 0 {
		l.Resources.Memory = &specs.LinuxMemory{}
		if r.Intn(2) == 0 {
			l.Resources.Memory.Limit = mem()
		}
		if r.Intn(2) == 0 {
			l.Resources.Memory.Swap = mem()
		}
		if r.Intn(2) == 0 {
			l.Resources.Memory.Reservation = mem()
		}
	}
	for j := r.Intn(3); j > 0; j-- {
		l.Resources.Devices = append(l.Resources.Devices, specs.LinuxDeviceCgroup{Type: pick("a", "b", "c", "", "p", "u"), Access: pick("", "r", "rwm", "x", "rx", "mr")})
	}
	if r.Intn(3) == 0 {
		w := uint16(10)
		d := specs.LinuxWeightDevice{}
		switch r.Intn(3) {
		case 1:
			d.Weight = &w
		case 2:
			d.LeafWeight = &w
		}
		l.Resources.BlockIO = &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{d}}
	}
	l.MaskedPaths = []string{pick("/proc/kcore", "proc/kcore", "")}
	l.ReadonlyPaths = []string{pick("/proc/sys", "sys", "/")}
	l.MountLabel = pick("", "z", "Z", "zZ", "system_u:object_r:z:s0")
}

// TestValidateLinuxAcceptsAsRunc: what runtime-tools refuses but runc and
// crun take, as engines send it: swap 0 (unset) below a limit, a
// reservation above the limit, net.* sysctls in a joined namespace.
func TestValidateLinuxAcceptsAsRunc(t *testing.T) {
	limit, zero, above := int64(100<<20), int64(0), int64(200<<20)
	for name, edit := range map[string]func(*specs.Linux){
		"swap 0":            func(l *specs.Linux) { l.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &zero} },
		"reservation above": func(l *specs.Linux) { l.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Reservation: &above} },
		"net sysctl, joined": func(l *specs.Linux) {
			l.Namespaces[1].Path = "/run/netns/x"
			l.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		},
		"mqueue sysctl joined": func(l *specs.Linux) {
			l.Namespaces[2].Path = "/run/ipc"
			l.Sysctl = map[string]string{"fs.mqueue.msg_max": "10"}
		},
	} {
		s := DefaultSpec()
		edit(s.Linux)
		if err := Validate(s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
