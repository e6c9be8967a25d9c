package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// User is an unprivileged user the test made; dir is its own 0755
// directory holding bundles, state and runtime dirs.
type User struct {
	Name     string
	UID, GID int
	Dir      string
	SubStart int // first id of its /etc/subuid (= /etc/subgid) range, 0 if none
}

// NewUser makes a user with useradd (which gives it subordinate id
// ranges unless subids is false) and removes it, its ranges and its files
// at cleanup, also when the test fails.
func NewUser(t *testing.T, subids bool) *User {
	t.Helper()
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skipf("useradd: %v", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "hullrl" + hex.EncodeToString(b)
	args := []string{"-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-K", "UMASK=022"}
	if !subids {
		args = append(args, "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(name+":")) {
				t.Errorf("%s still lists %s after userdel", f, name)
			}
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	tu := &User{Name: name}
	tu.UID, _ = strconv.Atoi(u.Uid)
	tu.GID, _ = strconv.Atoi(u.Gid)
	if subids {
		tu.SubStart = subRange(t, "/etc/subuid", name)
		if g := subRange(t, "/etc/subgid", name); g != tu.SubStart {
			t.Skipf("%s: subuid start %d != subgid start %d", name, tu.SubStart, g)
		}
	}
	tu.Dir, err = os.MkdirTemp("", "hull-rootless-")
	mustDo(t, err)
	t.Cleanup(func() { os.RemoveAll(tu.Dir) })
	mustDo(t, os.Chmod(tu.Dir, 0o755))
	mustDo(t, os.Chown(tu.Dir, tu.UID, tu.GID))
	tu.Mkdir(t, "run", 0o700)
	return tu
}

func subRange(t *testing.T, file, name string) int {
	t.Helper()
	f, err := os.Open(file)
	mustDo(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) == 3 && p[0] == name {
			n, _ := strconv.Atoi(p[1])
			return n
		}
	}
	t.Skipf("useradd gave %s no range in %s (SUB_UID_COUNT in login.defs?)", name, file)
	return 0
}

// Mkdir makes rel under the user's directory, owned by the user.
func (u *User) Mkdir(t *testing.T, rel string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(u.Dir, rel)
	mustDo(t, os.MkdirAll(p, mode))
	mustDo(t, os.Chmod(p, mode))
	mustDo(t, os.Chown(p, u.UID, u.GID))
	return p
}

// Command is a command run as the user (no supplementary groups), in dir,
// with XDG_RUNTIME_DIR its own run directory and HOME its directory.
func (u *User) Command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"XDG_RUNTIME_DIR=" + filepath.Join(u.Dir, "run"), "HOME=" + u.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
	return cmd
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
