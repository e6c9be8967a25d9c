package libcontainer

import "github.com/hull-runtime/hull/libcontainer/procfs"

// writeProc writes data to /proc/<rel> through a verified procfs handle
// (a private clone of /proc where possible): the parent's writes for a
// container process (id maps, oom_score_adj) reach that procfs file and
// nothing mounted on top of it.
func writeProc(rel string, data []byte) error {
	h, err := procfs.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	return h.WriteFile(rel, data)
}
