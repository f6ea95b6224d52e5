package session

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// cgroupPath names a cgroup v2 id as bpftrace's cgroup_path prints it,
// "unified:/system.slice/x.service": the id is the inode of the cgroup's
// directory in the cgroup2 file system (its low 32 bits when the id given
// has no more, as cgroup & 0xffffffff gives). Found paths are kept.
func cgroupPath(id uint64) string {
	cgroupPaths.Lock()
	defer cgroupPaths.Unlock()
	if p, ok := cgroupPaths.m[id]; ok {
		return p
	}
	root := cgroup2Mount()
	path := "(unknown cgroup)"
	if root != "" {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if ok && (st.Ino == id || id < 1<<32 && st.Ino&0xffffffff == id) {
				rel := strings.TrimPrefix(p, root)
				if rel == "" {
					rel = "/"
				}
				path = rel
				return fs.SkipAll
			}
			return nil
		})
	}
	path = "unified:" + path
	if cgroupPaths.m == nil {
		cgroupPaths.m = map[uint64]string{}
	}
	cgroupPaths.m[id] = path
	return path
}

var cgroupPaths struct {
	sync.Mutex
	m map[uint64]string
}

// cgroup2Mount is where the cgroup2 file system is mounted, from
// /proc/self/mountinfo; "" when it is not.
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE OPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && strings.HasPrefix(post, "cgroup2 ") && len(fields) >= 5 {
			return fields[4]
		}
	}
	return ""
}
