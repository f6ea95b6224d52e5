// Package cgroup limits a program to the processes of a cgroup v2 (a
// container, a systemd unit, a pod): it finds the cgroup by path or by
// container id and adds `cgroup == ID` (the cgroup builtin, the id the
// kernel gives the current task's cgroup) to the predicate of every probe.
package cgroup

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/uscope/uscope/internal/lang"
)

// maxIDs bounds the cgroups one filter matches (the cgroup and those
// below it when the filter starts).
const maxIDs = 64

// Mount returns the mount point of the cgroup v2 hierarchy.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts ... - fstype source opts
		fields := strings.Fields(sc.Text())
		for i, fl := range fields {
			if fl == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4], nil
			}
		}
	}
	return "", fmt.Errorf("no cgroup v2 hierarchy is mounted (the cgroup filter needs one; see /proc/self/mountinfo)")
}

// Filter is a resolved cgroup: its directory and the ids it matches.
type Filter struct {
	Path string
	IDs  []uint64
}

// ByPath resolves a cgroup directory: an absolute path under the cgroup
// v2 mount, or a path relative to it ("system.slice/nginx.service").
func ByPath(path string) (*Filter, error) {
	mnt, err := Mount()
	if err != nil {
		return nil, err
	}
	full := path
	if !strings.HasPrefix(path, mnt+"/") && path != mnt {
		full = filepath.Join(mnt, strings.TrimPrefix(path, "/"))
	}
	st, err := os.Stat(full)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--cgroup %s: no cgroup directory %s (cgroup v2 is mounted at %s)", path, full, mnt)
	}
	return collect(full)
}

// ByContainer finds the cgroup of a container from its id (or a prefix
// of at least 12 characters), as container engines name their cgroups:
// docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope,
// or a directory named ID.
func ByContainer(id string) (*Filter, error) {
	if len(id) < 12 || strings.ContainsAny(id, "/.") {
		return nil, fmt.Errorf("--container %q: give the container id, or its first 12 characters at least", id)
	}
	mnt, err := Mount()
	if err != nil {
		return nil, err
	}
	var found []string
	_ = filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		name := d.Name()
		if i := strings.LastIndexByte(name, '-'); i >= 0 {
			name = name[i+1:]
		}
		name = strings.TrimSuffix(name, ".scope")
		if strings.HasPrefix(name, id) {
			found = append(found, p)
			return filepath.SkipDir
		}
		return nil
	})
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("--container %s: no cgroup under %s is named after this id; is the container running on this host?", id, mnt)
	case 1:
		return collect(found[0])
	}
	return nil, fmt.Errorf("--container %s: the id matches %d cgroups (%s); give more of it", id, len(found), strings.Join(found, ", "))
}

// ContainerID returns the container id in a cgroup path, or "".
func ContainerID(path string) string {
	name := filepath.Base(path)
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, ".scope")
	if len(name) < 12 {
		return ""
	}
	for _, c := range name {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return name
}

// collect returns the ids of dir and of the cgroups below it (the id of a
// cgroup v2 is its directory's inode number).
func collect(dir string) (*Filter, error) {
	f := &Filter{Path: dir}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return nil
		}
		if len(f.IDs) == maxIDs {
			return fmt.Errorf("cgroup %s has more than %d cgroups below it; pick one lower down", dir, maxIDs)
		}
		f.IDs = append(f.IDs, st.Ino)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Apply adds the filter to the predicate of every probe of prog except
// BEGIN, END and interval, which run in uscope itself.
func (f *Filter) Apply(prog *lang.Program) {
	for _, p := range prog.Probes {
		if special(p) {
			continue
		}
		var cond lang.Expr
		for _, id := range f.IDs {
			eq := &lang.Binary{Pos: p.Pos, Op: "==", X: &lang.Ident{Pos: p.Pos, Name: "cgroup"},
				Y: &lang.IntLit{Pos: p.Pos, Value: id, Text: fmt.Sprint(id)}}
			if cond == nil {
				cond = eq
			} else {
				cond = &lang.Binary{Pos: p.Pos, Op: "||", X: cond, Y: eq}
			}
		}
		if p.Pred != nil {
			cond = &lang.Binary{Pos: p.Pos, Op: "&&", X: cond, Y: p.Pred}
		}
		p.Pred = cond
	}
}

func special(p *lang.Probe) bool {
	for _, ap := range p.Points {
		switch ap.Kind {
		case lang.KindBegin, lang.KindEnd, lang.KindInterval:
			return true
		}
	}
	return false
}
