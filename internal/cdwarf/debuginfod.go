package cdwarf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A debuginfod client (the protocol of elfutils' debuginfod): when an
// object has no DWARF and no separate debug file on disk, and
// DEBUGINFOD_URLS names servers, its debug file is fetched by build-id
// from GET URL/buildid/ID/debuginfo into a cache directory
// ($DEBUGINFOD_CACHE_PATH, else $XDG_CACHE_HOME/debuginfod_client, else
// ~/.cache/debuginfod_client, as elfutils lays it out: ID/debuginfo).

// debuginfodTimeout bounds each request ($DEBUGINFOD_TIMEOUT seconds,
// default 90 as elfutils).
func debuginfodTimeout() time.Duration {
	if s := os.Getenv("DEBUGINFOD_TIMEOUT"); s != "" {
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 90 * time.Second
}

func debuginfodCache() string {
	if p := os.Getenv("DEBUGINFOD_CACHE_PATH"); p != "" {
		return p
	}
	if p := os.Getenv("XDG_CACHE_HOME"); p != "" {
		return filepath.Join(p, "debuginfod_client")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "debuginfod_client")
	}
	return filepath.Join(os.TempDir(), "debuginfod_client")
}

// validBuildID reports whether id is a hex build-id (it becomes a path).
func validBuildID(id string) bool {
	if len(id) < 2 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// FetchDebugInfo returns the path of the debug file of the object with
// build-id id: from the cache, else from the first server of
// DEBUGINFOD_URLS that has it. It returns "" and nil when no server is
// configured.
func FetchDebugInfo(id string) (string, error) {
	urls := strings.Fields(os.Getenv("DEBUGINFOD_URLS"))
	if len(urls) == 0 {
		return "", nil
	}
	if !validBuildID(id) {
		return "", fmt.Errorf("debuginfod: build-id %q is not hex", id)
	}
	dir := filepath.Join(debuginfodCache(), id)
	path := filepath.Join(dir, "debuginfo")
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, nil
	}
	var errs []error
	for _, u := range urls {
		err := fetch(strings.TrimRight(u, "/")+"/buildid/"+id+"/debuginfo", dir, path)
		if err == nil {
			return path, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("debuginfod: %w", errors.Join(errs...))
}

func fetch(url, dir, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), debuginfodTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".debuginfo-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, io.LimitReader(resp.Body, 8<<30)); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
