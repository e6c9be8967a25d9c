// Package nspawn holds the host-side work of nspawn-style system
// containers: the pre-steps a converted bundle needs before `create`
// (nspawnconv.PreStep) and the actions its OCI hooks run through
// `hull nspawn-hook ACTION ARGS…`, so that any OCI runtime can run the bundle.
package nspawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/nspawnconv"

	"github.com/hull-runtime/hull/libcontainer/mountinfo"
)

// PreStepsFile is where a bundle records its pre-steps, so they can be
// applied again (`hull nspawn-hook prepare BUNDLE`) before a later run.
const PreStepsFile = "nspawn-presteps.json"

// ApplyPreSteps runs the steps in order. A failing Optional step is
// reported through warn and skipped; any other failure stops and is
// returned naming the step.
func ApplyPreSteps(steps []nspawnconv.PreStep, warn func(string)) error {
	for i, st := range steps {
		if err := applyPreStep(st); err != nil {
			err = fmt.Errorf("pre-step %d (%s %s for %s): %w", i, st.Action, st.Path, st.Key, err)
			if st.Optional {
				if warn != nil {
					warn(err.Error())
				}
				continue
			}
			return err
		}
	}
	return nil
}

func applyPreStep(st nspawnconv.PreStep) error {
	if !filepath.IsAbs(st.Path) {
		return fmt.Errorf("path %q is not absolute", st.Path)
	}
	mode := fs.FileMode(st.Mode)
	switch st.Action {
	case nspawnconv.ActionMkdir:
		if mode == 0 {
			mode = 0o755
		}
		if st.Replace {
			if fi, err := os.Lstat(st.Path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				if err := os.Remove(st.Path); err != nil {
					return err
				}
			}
		}
		if err := os.MkdirAll(st.Path, mode); err != nil {
			return err
		}
		return chownOwner(st.Path, st.Owner)
	case nspawnconv.ActionWriteFile:
		return writeFile(st.Path, []byte(st.Data), mode, st.Owner)
	case nspawnconv.ActionCopyFile:
		return copyFile(st.Source, st.Path, mode, st.Replace, st.Owner)
	case nspawnconv.ActionSymlink:
		return symlink(st.Source, st.Path, st.Owner)
	case nspawnconv.ActionRemove:
		if err := os.Remove(st.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	case nspawnconv.ActionMountTmpfs:
		return mountOnce("tmpfs", "tmpfs", st.Path, st.Options)
	case nspawnconv.ActionMountOverlay:
		return mountOnce("overlay", "overlay", st.Path, st.Options)
	case nspawnconv.ActionChownTree:
		return ShiftTree(st.Path, st.UIDShift, 65536)
	case nspawnconv.ActionCopyTree:
		return copyTree(st.Source, st.Path)
	default:
		return fmt.Errorf("unknown action %q", st.Action)
	}
}

func writeFile(path string, data []byte, mode fs.FileMode, owner uint32) error {
	if mode == 0 {
		mode = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Write beside and rename: a symlink at path is replaced, never followed.
	tmp := path + ".hull-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // the umask applied to WriteFile
		os.Remove(tmp)
		return err
	}
	if err := chownOwner(tmp, owner); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// copyFile copies src over dst. Without replace it only overwrites a
// regular file or fills a missing one, as nspawn's copy-* modes do; a
// symlink in the image (resolv.conf → resolved's stub) is left alone.
func copyFile(src, dst string, mode fs.FileMode, replace bool, owner uint32) error {
	if st, err := os.Lstat(dst); err == nil && !st.Mode().IsRegular() {
		if !replace {
			return nil
		}
		if err := os.Remove(dst); err != nil {
			return err
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	return writeFile(dst, data, mode, owner)
}

func symlink(target, path string, owner uint32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if st, err := os.Lstat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	if err := os.Symlink(target, path); err != nil {
		return err
	}
	return chownOwner(path, owner)
}

// chownOwner gives path (never a symlink's target) to owner:owner, the
// container's root under a user namespace, which can then read a 0600
// file that the host's root wrote. Owner 0 is already right.
func chownOwner(path string, owner uint32) error {
	if owner == 0 {
		return nil
	}
	if err := os.Lchown(path, int(owner), int(owner)); err != nil {
		return fmt.Errorf("chown %s to %d: %w", path, owner, err)
	}
	return nil
}

// mountOnce mounts unless path is already a mount point, so applying the
// pre-steps of a bundle twice does not stack mounts.
func mountOnce(fstype, source, path string, opts []string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	mounted, err := IsMountPoint(path)
	if err != nil || mounted {
		return err
	}
	if err := unix.Mount(source, path, fstype, 0, strings.Join(opts, ",")); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", fstype, path, strings.Join(opts, ","), err)
	}
	return nil
}

// IsMountPoint reports whether path is listed as a mount point in this
// process's mountinfo.
func IsMountPoint(path string) (bool, error) {
	mounts, err := MountsUnder(path)
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if m == filepath.Clean(path) {
			return true, nil
		}
	}
	return false, nil
}

// MountsUnder lists the mount points at or below dir.
func MountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := mountinfo.Unescape(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// ShiftTree adds shift to every uid and gid below size in the tree at
// root (PrivateUsersOwnership=chown), without following symlinks or
// crossing into other file systems. setuid/setgid bits, which chown
// clears, are restored.
func ShiftTree(root string, shift, size uint32) error {
	var rootDev uint64
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if p == root {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			return fs.SkipDir
		}
		uid, gid := st.Uid, st.Gid
		if uid < size {
			uid += shift
		}
		if gid < size {
			gid += shift
		}
		if uid == st.Uid && gid == st.Gid {
			return nil
		}
		if err := unix.Lchown(p, int(uid), int(gid)); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			return unix.Chmod(p, st.Mode&0o7777)
		}
		return nil
	})
}

// copyTree makes dst a copy of src (--template=) unless dst exists.
// cp -a keeps ownership, modes, links, device nodes and xattrs, which a
// hand-written copy would have to re-implement.
func copyTree(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	tmp := dst + ".hull-tmp"
	os.RemoveAll(tmp)
	out, err := exec.Command("cp", "-a", "--reflink=auto", "--", src, tmp).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("cp -a %s %s: %w: %s", src, tmp, err, strings.TrimSpace(string(out)))
	}
	return os.Rename(tmp, dst)
}

// EncodePreSteps renders steps for PreStepsFile.
func EncodePreSteps(steps []nspawnconv.PreStep) ([]byte, error) {
	if steps == nil {
		steps = []nspawnconv.PreStep{}
	}
	data, err := json.MarshalIndent(steps, "", "\t")
	return append(data, '\n'), err
}

// DecodePreSteps reads what EncodePreSteps wrote.
func DecodePreSteps(data []byte) ([]nspawnconv.PreStep, error) {
	var steps []nspawnconv.PreStep
	if err := json.Unmarshal(data, &steps); err != nil {
		return nil, fmt.Errorf("decode pre-steps: %w", err)
	}
	return steps, nil
}
