package cgroups

import (
	"path/filepath"
	"testing"
)

// Made is true for a cgroup Create made everywhere, false for one that
// existed (someone else's, which may hold processes), and for a manager
// that never created one.
func TestMadeV1(t *testing.T) {
	m := newTestV1(t, nil)
	if !Made(m) {
		t.Errorf("Made = false for a cgroup Create just made")
	}
	again, err := newV1(realHost(), Config{Path: m.path})
	if err != nil {
		t.Fatal(err)
	}
	if Made(again) {
		t.Errorf("Made = true before Create")
	}
	if err := again.Create(); err != nil {
		t.Fatal(err)
	}
	if Made(again) {
		t.Errorf("Made = true for a cgroup that existed")
	}
}

// JoinDirs names each v1 hierarchy once, in ProcsFiles' order, and tells
// the cgroup2 one and the pids one as the filesystem does.
func TestJoinDirsV1(t *testing.T) {
	m := newTestV1(t, nil)
	joins, procs := JoinDirs(m), m.ProcsFiles()
	if len(joins) != len(procs) {
		t.Fatalf("JoinDirs lists %d directories, ProcsFiles %d", len(joins), len(procs))
	}
	for i, j := range joins {
		if j.Dir != filepath.Dir(procs[i]) {
			t.Errorf("JoinDirs[%d] = %s, ProcsFiles[%d] = %s", i, j.Dir, i, procs[i])
		}
		probed := JoinDirs(procsOnly{files: procs[i : i+1]})[0]
		if j.Cgroup2 != probed.Cgroup2 {
			t.Errorf("%s: Cgroup2 = %v, statfs says %v", j.Dir, j.Cgroup2, probed.Cgroup2)
		}
		if _, limited := PidsMax(j.Dir); limited && !j.Pids {
			t.Errorf("%s: has a numeric pids.max but Pids = false", j.Dir)
		}
		if j.Pids != (j.Dir == m.paths["pids"]) {
			t.Errorf("%s: Pids = %v", j.Dir, j.Pids)
		}
	}
}

// procsOnly is a Manager known only by its cgroup.procs files: JoinDirs
// then asks the filesystem.
type procsOnly struct {
	Manager
	files []string
}

func (p procsOnly) ProcsFiles() []string { return p.files }

// On v2, Made and JoinDirs as on v1: one cgroup2 directory, which holds
// pids.max when the pids controller reached it.
func TestMadeAndJoinDirsV2(t *testing.T) {
	m := newTestV2(t, "/c", nil)
	if !Made(m) {
		t.Errorf("Made = false for a cgroup Create just made")
	}
	again, err := newV2(realHost(), Config{Path: m.path})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Create(); err != nil {
		t.Fatal(err)
	}
	if Made(again) {
		t.Errorf("Made = true for a cgroup that existed")
	}
	joins := JoinDirs(m)
	if len(joins) != 1 || joins[0].Dir != m.dir || !joins[0].Cgroup2 || !joins[0].Pids {
		t.Fatalf("JoinDirs = %+v, want the one cgroup2 directory %s", joins, m.dir)
	}
	if probed := JoinDirs(procsOnly{files: m.ProcsFiles()}); len(probed) != 1 || !probed[0].Cgroup2 {
		t.Errorf("statfs of %s: %+v, want cgroup2", m.dir, probed)
	}
}
