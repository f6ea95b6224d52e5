package attach

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestFeatures checks that each feature has a reason exactly when it is
// missing, and that this kernel (6.6+, the CI machine) has what uscope needs.
func TestFeatures(t *testing.T) {
	testutil.RequireRoot(t)
	fs := Features()
	for _, f := range fs.List() {
		t.Logf("%-18s %v %s", f.Name, f.OK, f.Reason)
		if f.OK != (f.Reason == "") {
			t.Errorf("%s: OK=%v with reason %q", f.Name, f.OK, f.Reason)
		}
	}
	for name, f := range map[string]Feature{"uprobe_multi": fs.UprobeMulti, "ref_ctr_offset": fs.RefCtr, "ringbuf": fs.RingBuf, "attach_cookie": fs.Cookies} {
		if !f.OK {
			t.Errorf("%s missing: %s", name, f.Reason)
		}
	}
	if _, err := os.Stat(vmlinuxBTFPath); (err == nil) != fs.BTF.OK {
		t.Errorf("BTF = %v, but stat says %v", fs.BTF.OK, err)
	}
}

// TestKallsymsHas checks the exact-name match in kallsyms lines.
func TestKallsymsHas(t *testing.T) {
	tests := []struct {
		name, content string
		want          bool
	}{
		{"present", "ffffffff81000000 T _stext\nffffffff81337e50 T __x64_sys_uprobe\n", true},
		{"module column", "0000000000000000 t __x64_sys_uprobe\t[mod]\n", true},
		{"longer name", "ffffffff81337e50 T __x64_sys_uprobe_foo\nffffffff81337e50 T x__x64_sys_uprobe\n", false},
		{"absent", "ffffffff81000000 T _stext\n", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "kallsyms")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := kallsymsHas(p, "__x64_sys_uprobe")
			if err != nil || got != tc.want {
				t.Errorf("kallsymsHas = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
