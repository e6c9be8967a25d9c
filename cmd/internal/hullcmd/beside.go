package hullcmd

import (
	"fmt"
	"os"
	"path/filepath"
)

// Beside is the program name installed beside the binary self (hull-nspawn
// beside hull, hull-stubinit beside hull-nspawn), checked to be an
// executable file, so that a missing or wrong one is named as such.
func Beside(self, name string) (string, error) {
	p := filepath.Join(filepath.Dir(self), name)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("needs %s beside %s (make build and make install put it there): %w", p, filepath.Base(self), err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file (%v)", p, st.Mode())
	}
	return p, nil
}
