package stapsdt

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapping is a loaded provider image: the open file that backs it and the
// address range it occupies.
type mapping struct {
	file *os.File
	path string // what tracers open: /proc/PID/fd/N or the file's path
	temp string // file to remove on close; "" for a memfd
	base unsafe.Pointer
	size uintptr
}

// addr returns the run-time address of image offset off.
func (m *mapping) addr(off uint64) uintptr { return uintptr(m.base) + uintptr(off) }

// word returns a pointer to the 4-byte semaphore slot at image offset off.
func (m *mapping) word(off uint64) *uint32 { return (*uint32)(unsafe.Add(m.base, off)) }

// close unmaps the image, closes its file and removes the fallback file.
func (m *mapping) close() error {
	var errs []error
	if err := unix.MunmapPtr(m.base, m.size); err != nil {
		errs = append(errs, fmt.Errorf("munmap: %w", err))
	}
	if err := m.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing %s: %w", m.path, err))
	}
	if m.temp != "" {
		if err := os.Remove(m.temp); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", m.temp, err))
		}
	}
	return errors.Join(errs...)
}

// mapImage writes img to a memfd named "stapsdt-PROVIDER" and maps it; if
// that fails (memfds not executable, memfd_create filtered), it uses a file
// in the options' directory instead.
func mapImage(provider string, img *image, o options) (*mapping, error) {
	var memfdErr error
	if !o.noMemfd {
		m, err := mapMemfd(provider, img)
		if err == nil {
			return m, nil
		}
		memfdErr = err
	}
	m, err := mapTempFile(provider, img, o.dir)
	if err != nil {
		if memfdErr != nil {
			return nil, fmt.Errorf("%w; fallback: %w", memfdErr, err)
		}
		return nil, err
	}
	return m, nil
}

// mapMemfd is mapImage's memfd path. The memfd is created executable
// (MFD_EXEC, so vm.memfd_noexec=1 does not seal it non-executable) where the
// kernel knows the flag, and sealed against changes once mapped.
func mapMemfd(provider string, img *image) (*mapping, error) {
	name := "stapsdt-" + provider
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags) // kernel before 6.3
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "/memfd:"+name)
	m, err := mapFile(f, img)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd %s: %w", name, err)
	}
	m.path = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)
	// Best effort: forbid writes and size changes, so that nothing can
	// change the code behind the mapping or truncate it (SIGBUS). Private
	// mappings, including the writable semaphore page, are not affected.
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals|unix.F_SEAL_WRITE); err != nil {
		unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals) //nolint:errcheck // sealing is optional
	}
	return m, nil
}

// mapTempFile is mapImage's file path: a new file in dir (os.TempDir() if
// empty), kept until Unload.
func mapTempFile(provider string, img *image, dir string) (*mapping, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "stapsdt-"+provider+"-*.so")
	if err != nil {
		return nil, fmt.Errorf("creating provider file: %w", err)
	}
	m, err := mapFile(f, img)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("%s (is %s mounted noexec? choose another with WithTempDir): %w", f.Name(), dir, err)
	}
	m.path = f.Name()
	m.temp = f.Name()
	return m, nil
}

// mapFile writes img to f and maps each PT_LOAD from f at its offset inside
// one reserved range, so the layout matches the ELF's addresses: text
// MAP_PRIVATE read+execute, semaphores MAP_PRIVATE read+write (the kernel's
// ref_ctr needs a private writable mapping of the probed file).
func mapFile(f *os.File, img *image) (*mapping, error) {
	if _, err := f.Write(img.data); err != nil {
		return nil, fmt.Errorf("writing ELF image: %w", err)
	}
	fd := int(f.Fd())
	size := uintptr(len(img.data))
	base, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("reserving %d bytes: %w", size, err)
	}
	page := uint64(os.Getpagesize())
	for _, s := range img.segs {
		if s.size == 0 {
			continue
		}
		prot := unix.PROT_READ
		if s.flags&elf.PF_W != 0 {
			prot |= unix.PROT_WRITE
		}
		if s.flags&elf.PF_X != 0 {
			prot |= unix.PROT_EXEC
		}
		n := uintptr(alignUp(s.size, page))
		if _, err := unix.MmapPtr(fd, int64(s.off), unsafe.Add(base, s.off), n, prot, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			unix.MunmapPtr(base, size) //nolint:errcheck // already failing
			return nil, fmt.Errorf("mapping segment at offset %#x (%s): %w", s.off, protString(prot), err)
		}
	}
	return &mapping{file: f, base: base, size: size}, nil
}

// protString formats mmap protections as /proc/PID/maps does.
func protString(prot int) string {
	b := []byte("---")
	if prot&unix.PROT_READ != 0 {
		b[0] = 'r'
	}
	if prot&unix.PROT_WRITE != 0 {
		b[1] = 'w'
	}
	if prot&unix.PROT_EXEC != 0 {
		b[2] = 'x'
	}
	return string(b)
}
