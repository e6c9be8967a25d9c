package cgroups

import "fmt"

func newV2(h host, c Config) (Manager, error) {
	return nil, fmt.Errorf("cgroup driver %s: %w", DriverV2, ErrNotImplemented)
}

func loadV2(s State) (Manager, error) {
	return nil, fmt.Errorf("cgroup driver %s: %w", DriverV2, ErrNotImplemented)
}
