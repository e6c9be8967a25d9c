package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// updateStep is one `update` command line and what it must leave in the
// container's v1 cgroup, under hull as under runc.
type updateStep struct {
	args  []string // between "update" and the id
	ok    bool     // exits 0
	files []cgroupFile
}

// runUpdateSteps runs steps against a running container of each runtime
// and checks the exit status and the cgroup files after each step; a
// failing step must name its flag and value under hull. It returns the
// last step's files as each runtime left them, for comparison.
func runUpdateSteps(t *testing.T, steps []updateStep) map[string]map[string]string {
	t.Helper()
	last := map[string]map[string]string{}
	for _, rt := range cliRuntimes(t) {
		c := newRuntimeContainer(t, rt, sleeper)
		c.runDetached()
		for _, s := range steps {
			r := c.hull(append(append([]string{"update"}, s.args...), c.ID)...)
			if (r.Code == 0) != s.ok {
				t.Errorf("%s: update %q: exit %d, want success %v: %s", rt, s.args, r.Code, s.ok, r)
			}
			if !s.ok && rt == "hull" && !namesFlagAndValue(r.Stderr, s.args) {
				t.Errorf("hull: update %q: the error names not the flag and the value: %s", s.args, r.Stderr)
			}
			for _, f := range s.files {
				if got := readCgroupFile(t, c.Cgroup, f.ctrl, f.file); got != f.want {
					t.Errorf("%s: after update %q: %s = %s, want %s", rt, s.args, f.file, got, f.want)
				}
			}
		}
		last[rt] = map[string]string{}
		for _, f := range steps[len(steps)-1].files {
			last[rt][f.file] = readCgroupFile(t, c.Cgroup, f.ctrl, f.file)
		}
	}
	return last
}

// namesFlagAndValue: the first flag of args and its value both appear in
// the error (only a step with one bad flag is written to fail).
func namesFlagAndValue(stderr string, args []string) bool {
	for i := 0; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && args[i] != "--resources" {
			return strings.Contains(stderr, args[i]) && strings.Contains(stderr, strconv.Quote(args[i+1]))
		}
	}
	return false
}

func memFile(file, want string) cgroupFile { return cgroupFile{"memory", file, want} }

// TestUpdateSizeParity: hull reads the size flags as runc does (go-units'
// RAMInBytes: binary multiples, any case, decimals) and refuses what runc
// refuses, changing nothing. Before, "100MB" was 100 bytes, "1.5g" 1 GiB,
// "2x" 2 bytes, "17179869185g" wrapped to 1 GiB, and
// --memory-reservation 512MB wrote 0.
func TestUpdateSizeParity(t *testing.T) {
	t.Parallel()
	needV1(t, "memory", "memory.limit_in_bytes")
	const limit, soft = "memory.limit_in_bytes", "memory.soft_limit_in_bytes"
	mib := func(n int64) string { return strconv.FormatInt(n<<20, 10) }
	steps := []updateStep{
		{[]string{"--memory", "100MB"}, true, []cgroupFile{memFile(limit, mib(100))}},
		{[]string{"--memory", "200mb"}, true, []cgroupFile{memFile(limit, mib(200))}},
		{[]string{"--memory", "300MiB"}, true, []cgroupFile{memFile(limit, mib(300))}},
		{[]string{"--memory-reservation", "512MB"}, true, []cgroupFile{memFile(soft, mib(512))}},
		{[]string{"--memory", "1.5g"}, true, []cgroupFile{memFile(limit, "1610612736")}},
		{[]string{"--memory", "2x"}, false, []cgroupFile{memFile(limit, "1610612736")}},
		{[]string{"--memory-reservation", "1.5.5g"}, false, []cgroupFile{memFile(soft, mib(512))}},
		{[]string{"--memory", "17179869185g"}, false, []cgroupFile{memFile(limit, "1610612736"), memFile(soft, mib(512))}},
	}
	last := runUpdateSteps(t, steps)
	if len(last) == 2 && strings.Join(mapLines(last["hull"]), ",") != strings.Join(mapLines(last["runc"]), ",") {
		t.Errorf("cgroup files differ: hull %v, runc %v", last["hull"], last["runc"])
	}
}

// TestUpdateMemoryUnlimitedParity: `update --memory -1` (and a resources
// document with limit -1 alone) after a swap limit lifts memsw too, as
// runc does; hull used to write the memory limit alone, which the v1
// kernel refuses while memsw is below it.
func TestUpdateMemoryUnlimitedParity(t *testing.T) {
	t.Parallel()
	needV1(t, "memory", "memory.memsw.limit_in_bytes")
	const limit, memsw = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	unlimited := unlimitedMemory(t)
	doc := filepath.Join(t.TempDir(), "unlimited.json")
	if err := os.WriteFile(doc, []byte(`{"memory":{"limit":-1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	limited := []cgroupFile{memFile(limit, "104857600"), memFile(memsw, "209715200")}
	lifted := []cgroupFile{memFile(limit, unlimited), memFile(memsw, unlimited)}
	runUpdateSteps(t, []updateStep{
		{[]string{"--memory", "100m", "--memory-swap", "200m"}, true, limited},
		{[]string{"--memory", "-1"}, true, lifted},
		{[]string{"--memory", "100m", "--memory-swap", "200m"}, true, limited},
		{[]string{"--resources", doc}, true, lifted},
	})
}

// unlimitedMemory is what the kernel shows for an unlimited v1 memory
// limit: the root cgroup's own limit.
func unlimitedMemory(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/sys/fs/cgroup/memory/memory.limit_in_bytes")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestUpdateKeepsDeviceRules: an update carrying device rules (containerd's
// CRI sends the whole linux.resources) leaves the devices cgroup as it is,
// as runc does: a rule added after create, as the NVIDIA hook adds one for
// its GPUs, survives. hull used to rewrite the rules from the update and
// drop it.
func TestUpdateKeepsDeviceRules(t *testing.T) {
	t.Parallel()
	needV1(t, "devices", "devices.list")
	doc := filepath.Join(t.TempDir(), "cri.json")
	body := `{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":209715200}}`
	if err := os.WriteFile(doc, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	lists := map[string]string{}
	for _, rt := range cliRuntimes(t) {
		c := newRuntimeContainer(t, rt, sleeper)
		c.runDetached()
		allow := filepath.Join("/sys/fs/cgroup/devices", c.Cgroup, "devices.allow")
		if err := os.WriteFile(allow, []byte("c 195:* rwm"), 0); err != nil {
			t.Fatal(err)
		}
		before := readCgroupFile(t, c.Cgroup, "devices", "devices.list")
		if !strings.Contains(before, "c 195:* rwm") {
			t.Fatalf("%s: the added rule is not listed:\n%s", rt, before)
		}
		c.mustHull("update", "--resources", doc, c.ID)
		if after := readCgroupFile(t, c.Cgroup, "devices", "devices.list"); after != before {
			t.Errorf("%s: devices.list after the update:\n%s\nbefore:\n%s", rt, after, before)
		}
		wantCgroupFiles(t, c.Cgroup, []cgroupFile{memFile("memory.limit_in_bytes", "209715200")})
		// As a set: runc writes them sorted, hull in the rules' order.
		lines := strings.Split(before, "\n")
		slices.Sort(lines)
		lists[rt] = strings.Join(lines, "\n")
	}
	if len(lists) == 2 && lists["hull"] != lists["runc"] {
		t.Errorf("devices.list differs:\nhull:\n%s\nrunc:\n%s", lists["hull"], lists["runc"])
	}
}

// mapLines is m as sorted "key=value" lines.
func mapLines(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
