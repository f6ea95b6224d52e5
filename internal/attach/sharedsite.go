package attach

import (
	"os"
	"syscall"
)

// ShareRefCtr gives every site that is on the same instruction of the same
// file as a USDT site with a semaphore that semaphore's ref_ctr offset, in
// place. The kernel keeps one uprobe per (file, offset) with one ref_ctr
// offset, and refuses a second consumer with another offset (EINVAL:
// "ref_ctr_offset mismatch"); a plain uprobe sharing the USDT probe's
// semaphore only raises a counter that the USDT probe raises anyway.
// Files are compared by device and inode, so that /proc/PID/root/... and
// the host path of one file match.
func ShareRefCtr(groups [][]Site) {
	type key struct {
		dev, ino, off uint64
	}
	ids := map[string]key{}
	id := func(s Site) (key, bool) {
		k, ok := ids[s.Path]
		if !ok {
			fi, err := os.Stat(s.Path)
			if err != nil {
				return key{}, false
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return key{}, false
			}
			k = key{dev: st.Dev, ino: st.Ino}
			ids[s.Path] = k
		}
		k.off = s.Offset
		return k, true
	}
	refs := map[key]uint64{}
	for _, g := range groups {
		for _, s := range g {
			if s.RefCtrOffset == 0 {
				continue
			}
			if k, ok := id(s); ok {
				refs[k] = s.RefCtrOffset
			}
		}
	}
	if len(refs) == 0 {
		return
	}
	for _, g := range groups {
		for i := range g {
			if g[i].RefCtrOffset != 0 {
				continue
			}
			if k, ok := id(g[i]); ok {
				if r, ok := refs[k]; ok {
					g[i].RefCtrOffset = r
				}
			}
		}
	}
}
