//go:build !linux

package stapsdt

import (
	"errors"
	"fmt"
)

// mapping is never created outside Linux.
type mapping struct{ path string }

func (m *mapping) addr(off uint64) uintptr { return 0 }
func (m *mapping) word(off uint64) *uint32 { return nil }
func (m *mapping) close() error            { return nil }

// mapImage fails: memfds, uprobes and USDT are Linux features.
func mapImage(provider string, img *image, o options) (*mapping, error) {
	return nil, fmt.Errorf("USDT probes need Linux: %w", errors.ErrUnsupported)
}
