package engines

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// The images are made here from the busybox rootfs: no registry is
// reachable, and none is needed.

// writeRootfsTar writes dir as an image layer: regular files, directories
// and symlinks with their modes, owned by root, in a stable order.
func writeRootfsTar(w io.Writer, dir string) error {
	return writeRootfsTarLinks(w, dir, false)
}

// busyboxRel is the busybox binary of the rootfs, relative to its root.
const busyboxRel = "bin/busybox"

// writeRootfsTarLinks is writeRootfsTar; with hardlinks, the applet
// symlinks to /bin/busybox become hard links, as in the busybox images
// Kubernetes' tests use: masking /bin/ls then masks that name only, not
// the binary every applet (sh included) runs.
func writeRootfsTarLinks(w io.Writer, dir string, hardlinks bool) error {
	tw := tar.NewWriter(w)
	first := map[string]bool{}
	if hardlinks {
		for _, rel := range []string{filepath.Dir(busyboxRel), busyboxRel} {
			if err := writeTarEntry(tw, filepath.Join(dir, rel), rel); err != nil {
				return err
			}
			first[rel] = true
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if first[rel] {
			return nil // written first, so that links can name it
		}
		if hardlinks && d.Type()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(path); err == nil && target == "/"+busyboxRel {
				return tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeLink, Linkname: busyboxRel, Mode: 0o755})
			}
		}
		return writeTarEntry(tw, path, rel)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeTarEntry writes one file of the rootfs (regular, directory or
// symlink; others are skipped) as rel, owned by root.
func writeTarEntry(tw *tar.Writer, path, rel string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() && !info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
		return nil // device nodes and sockets: the runtime makes /dev
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, 0, 0, "", ""
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if info.Mode().IsRegular() {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		return err
	}
	return nil
}

// blob is one content-addressed file of an OCI image layout.
type blob struct {
	mediaType string
	data      []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor(annotations map[string]string) map[string]any {
	d := map[string]any{"mediaType": b.mediaType, "digest": b.digest(), "size": len(b.data)}
	if annotations != nil {
		d["annotations"] = annotations
	}
	return d
}

// writeOCIArchive writes an OCI image layout tar of the rootfs, one
// uncompressed layer, tagged ref, whose config runs sh: what `ctr images
// import` takes.
func writeOCIArchive(path, rootfs, ref string) error {
	return writeOCIArchiveCmd(path, rootfs, ref, nil, []string{"sh"})
}

// writeOCIArchiveCmd is writeOCIArchive with the image config's Entrypoint
// and Cmd.
func writeOCIArchiveCmd(path, rootfs, ref string, entrypoint, cmd []string) error {
	var layerBuf bytes.Buffer
	if err := writeRootfsTarLinks(&layerBuf, rootfs, true); err != nil {
		return fmt.Errorf("tar %s: %w", rootfs, err)
	}
	layer := blob{"application/vnd.oci.image.layer.v1.tar", layerBuf.Bytes()}
	config := blob{"application/vnd.oci.image.config.v1+json", mustJSON(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": time.Unix(0, 0).UTC(),
		"config": map[string]any{"Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "Entrypoint": entrypoint, "Cmd": cmd},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.digest()}},
	})}
	manifest := blob{"application/vnd.oci.image.manifest.v1+json", mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": config.descriptor(nil), "layers": []any{layer.descriptor(nil)},
	})}
	index := mustJSON(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{manifest.descriptor(map[string]string{
			"io.containerd.image.name":          ref,
			"org.opencontainers.image.ref.name": ref,
		})},
	})
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, b := range []blob{layer, config, manifest} {
		files = append(files, struct {
			name string
			data []byte
		}{"blobs/sha256/" + b.digest()[len("sha256:"):], b.data})
	}
	for _, file := range files {
		hdr := &tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(file.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed maps of strings, numbers and slices come here
	}
	return data
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }
