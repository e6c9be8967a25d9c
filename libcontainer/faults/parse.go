package faults

import (
	"strconv"
	"strings"
)

// Parse splits HULL_FAULT's value into a name and the hit it means (1 when
// no :N is given). Names have no ':' of their own.
func Parse(v string) (string, int) {
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		if n, err := strconv.Atoi(v[i+1:]); err == nil && n > 0 {
			return v[:i], n
		}
	}
	return v, 1
}
