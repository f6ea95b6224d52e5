package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/testutil"
)

// allCaps is CapEff of root on a recent kernel (bits 0-40).
const allCaps = 0x000001ffffffffff

// healthyFiles is the /proc and /sys of a machine where everything works.
func healthyFiles() map[string]string {
	return map[string]string{
		"proc/self/mounts": "proc /proc proc rw,relatime 0 0\n" +
			"sysfs /sys sysfs rw,relatime 0 0\n" +
			"securityfs /sys/kernel/security securityfs rw,relatime 0 0\n" +
			"tracefs /sys/kernel/tracing tracefs rw,relatime 0 0\n",
		"proc/cmdline":                              "console=ttyS0 quiet\n",
		"proc/sys/kernel/perf_event_paranoid":       "2\n",
		"proc/sys/kernel/unprivileged_bpf_disabled": "2\n",
		"sys/bus/event_source/devices/uprobe/type":  "9\n",
		"sys/kernel/security/lockdown":              "[none] integrity confidentiality\n",
	}
}

func allFeatures() attach.FeatureSet {
	ok := attach.Feature{OK: true}
	return attach.FeatureSet{UprobeMulti: ok, RefCtr: ok, RingBuf: ok, Cookies: ok, OptimizedUprobes: ok, BTF: ok}
}

// Reasons as attach.Features words them.
const (
	noPerm     = "could not check: permission denied (run as root)"
	noMulti    = "no BPF uprobe_multi links (Linux 6.6+); each probe gets its own perf event, slow to attach and detach"
	noRingBuf  = "no BPF ring buffer (Linux 5.8+); uscope cannot print events"
	noCookies  = "no bpf_get_attach_cookie for uprobes (Linux 5.15+); one program cannot serve many probes"
	noOptimize = "kernel has no uprobe syscall (Linux 6.18+); every uprobe is an int3 trap"
	noBTF      = "kernel has no BTF (CONFIG_DEBUG_INFO_BTF); not needed for uprobes (/sys/kernel/btf/vmlinux is missing)"
)

// sim is a simulated machine: files under a temporary root and the rest of
// the environment.
type sim struct {
	files    map[string]string
	uid      int
	caps     uint64
	capErr   error
	release  string
	features attach.FeatureSet
	bpf      error
}

func healthy() *sim {
	return &sim{files: healthyFiles(), caps: allCaps, release: "6.18.44-fc-v669", features: allFeatures()}
}

func (s *sim) env(t *testing.T) Env {
	t.Helper()
	root := t.TempDir()
	for name, content := range s.files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Env{
		Root:     root,
		UID:      s.uid,
		CapEff:   s.caps,
		CapErr:   s.capErr,
		Release:  s.release,
		Features: func() attach.FeatureSet { return s.features },
		BPF:      func() error { return s.bpf },
	}
}

// want is the expected verdict and a fragment of the message of one check.
type want struct {
	status Status
	text   string
}

func TestRunSimulated(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sim)
		ok     bool
		want   map[string]want
	}{
		{
			name: "healthy",
			ok:   true,
			want: map[string]want{
				"kernel":     {OK, "has every kernel feature uscope uses"},
				"privileges": {OK, "root (uid 0) with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN"},
				"tracefs":    {OK, "mounted at /sys/kernel/tracing; optional"},
				"lockdown":   {OK, "none: nothing blocks BPF"},
			},
		},
		{
			name: "no tracefs mount",
			change: func(s *sim) {
				s.files["proc/self/mounts"] = "proc /proc proc rw 0 0\nsecurityfs /sys/kernel/security securityfs rw 0 0\n"
			},
			ok: true,
			want: map[string]want{
				"tracefs": {Info, "not mounted; optional: uscope does not need it"},
			},
		},
		{
			name: "unprivileged user",
			change: func(s *sim) {
				s.uid, s.caps = 1000, 0
				s.features.UprobeMulti = attach.Feature{Reason: noPerm}
				s.features.RingBuf = attach.Feature{Reason: noPerm}
				s.features.Cookies = attach.Feature{Reason: noPerm}
				s.bpf = fmt.Errorf("load kprobe program: %w", unix.EPERM)
			},
			want: map[string]want{
				"privileges":                {Fail, "uid 1000 lacks CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN: run uscope with sudo, or grant the capabilities: sudo setcap cap_bpf,cap_perfmon,cap_sys_admin+ep"},
				"bpf":                       {Fail, "bpf() is denied (operation not permitted): run uscope with sudo"},
				"perf_event_paranoid":       {Warn, "2: limits users without CAP_PERFMON"},
				"uprobe_multi":              {Warn, "Linux 6.18 should have it (6.6+): run uscope doctor as root to be sure"},
				"ringbuf":                   {Warn, "could not check: permission denied"},
				"unprivileged_bpf_disabled": {Info, "run uscope as root"},
			},
		},
		{
			name: "unprivileged user on an old kernel",
			change: func(s *sim) {
				s.uid, s.caps, s.release = 1000, 0, "5.4.0-150-generic"
				s.features.RingBuf = attach.Feature{Reason: noPerm}
			},
			want: map[string]want{
				"ringbuf": {Fail, "Linux 5.4 is older than 5.8, so it is probably missing"},
			},
		},
		{
			name:   "root in a container without capabilities",
			change: func(s *sim) { s.caps = 0 },
			want: map[string]want{
				"privileges": {Fail, "root (uid 0) lacks CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN: root without them is a restricted container: run it with --cap-add=BPF"},
			},
		},
		{
			name:   "CAP_SYS_ADMIN only",
			change: func(s *sim) { s.uid, s.caps = 1000, 1<<capSysAdmin },
			ok:     true,
			want: map[string]want{
				"privileges":          {OK, "uid 1000 with CAP_SYS_ADMIN, which the kernel accepts for CAP_BPF and CAP_PERFMON"},
				"perf_event_paranoid": {OK, "does not limit uscope"},
			},
		},
		{
			name:   "CAP_BPF and CAP_PERFMON without CAP_SYS_ADMIN",
			change: func(s *sim) { s.uid, s.caps = 1000, 1<<capBPF|1<<capPerfmon },
			want: map[string]want{
				"privileges": {Fail, "uid 1000 lacks CAP_SYS_ADMIN: run uscope with sudo"},
			},
		},
		{
			name:   "capabilities unreadable",
			change: func(s *sim) { s.capErr = errors.New("read capabilities: permission denied") },
			want: map[string]want{
				"privileges": {Fail, "cannot read the capability set (read capabilities: permission denied): run uscope as root"},
			},
		},
		{
			name: "old kernel 5.4",
			change: func(s *sim) {
				s.release = "5.4.0-150-generic"
				s.features.UprobeMulti = attach.Feature{Reason: noMulti}
				s.features.RingBuf = attach.Feature{Reason: noRingBuf}
				s.features.Cookies = attach.Feature{Reason: noCookies}
				s.features.OptimizedUprobes = attach.Feature{Reason: noOptimize}
			},
			want: map[string]want{
				"kernel":            {Fail, "Linux 5.4.0-150-generic is too old: uscope needs 5.8+ (BPF ring buffer), 6.6+ for uprobe_multi; upgrade the kernel"},
				"ringbuf":           {Fail, noRingBuf + "; upgrade to Linux 5.8+"},
				"uprobe_multi":      {Warn, noMulti + "; upgrade to Linux 6.6+"},
				"attach_cookie":     {Warn, "upgrade to Linux 5.15+ (uscope trace and the probe builtin need it)"},
				"optimized_uprobes": {Info, noOptimize},
			},
		},
		{
			name: "kernel 5.10",
			change: func(s *sim) {
				s.release = "5.10.0-28-amd64"
				s.features.UprobeMulti = attach.Feature{Reason: noMulti}
				s.features.Cookies = attach.Feature{Reason: noCookies}
				s.features.OptimizedUprobes = attach.Feature{Reason: noOptimize}
			},
			ok: true,
			want: map[string]want{
				"kernel": {Warn, "Linux 5.10.0-28-amd64: attach cookies need 5.15+"},
			},
		},
		{
			name: "kernel 6.1",
			change: func(s *sim) {
				s.release = "6.1.0-18-amd64"
				s.features.UprobeMulti = attach.Feature{Reason: noMulti}
				s.features.OptimizedUprobes = attach.Feature{Reason: noOptimize}
			},
			ok: true,
			want: map[string]want{
				"kernel": {Warn, "uprobe_multi needs 6.6+"},
			},
		},
		{
			name: "kernel 6.8",
			change: func(s *sim) {
				s.release = "6.8.0-45-generic"
				s.features.OptimizedUprobes = attach.Feature{Reason: noOptimize}
			},
			ok: true,
			want: map[string]want{
				"kernel":            {OK, "6.18+ adds optimized uprobes"},
				"optimized_uprobes": {Info, "nothing to change"},
			},
		},
		{
			name:   "unparsable release",
			change: func(s *sim) { s.release = "custom" },
			ok:     true,
			want: map[string]want{
				"kernel": {Warn, `cannot parse release "custom"`},
			},
		},
		{
			name: "lockdown confidentiality",
			change: func(s *sim) {
				s.files["sys/kernel/security/lockdown"] = "none integrity [confidentiality]\n"
			},
			ok: true,
			want: map[string]want{
				"lockdown": {Warn, "confidentiality: BPF may not read kernel memory"},
			},
		},
		{
			name: "lockdown confidentiality on 5.4",
			change: func(s *sim) {
				s.release = "5.4.0-150-generic"
				s.files["sys/kernel/security/lockdown"] = "none integrity [confidentiality]\n"
			},
			want: map[string]want{
				"lockdown": {Fail, "confidentiality: the kernel blocks bpf_probe_read, so uscope cannot read arguments or strings; boot with lockdown=integrity"},
			},
		},
		{
			name: "lockdown integrity",
			change: func(s *sim) {
				s.files["sys/kernel/security/lockdown"] = "none [integrity] confidentiality\n"
			},
			ok: true,
			want: map[string]want{
				"lockdown": {OK, "integrity: BPF may read memory"},
			},
		},
		{
			name: "no lockdown LSM",
			change: func(s *sim) {
				delete(s.files, "sys/kernel/security/lockdown")
			},
			ok: true,
			want: map[string]want{
				"lockdown": {OK, "no lockdown LSM in this kernel"},
			},
		},
		{
			name: "securityfs not mounted",
			change: func(s *sim) {
				delete(s.files, "sys/kernel/security/lockdown")
				s.files["proc/self/mounts"] = "proc /proc proc rw 0 0\n"
			},
			ok: true,
			want: map[string]want{
				"lockdown": {Info, "unknown: securityfs is not mounted; to see the mode: mount -t securityfs"},
				"tracefs":  {Info, "not mounted"},
			},
		},
		{
			name: "lockdown from the kernel command line",
			change: func(s *sim) {
				delete(s.files, "sys/kernel/security/lockdown")
				s.files["proc/self/mounts"] = "proc /proc proc rw 0 0\n"
				s.files["proc/cmdline"] = "quiet lockdown=confidentiality -- lockdown=none\n"
			},
			ok: true,
			want: map[string]want{
				"lockdown": {Warn, "confidentiality (set on the kernel command line)"},
			},
		},
		{
			name:   "missing BTF",
			change: func(s *sim) { s.features.BTF = attach.Feature{Reason: noBTF} },
			ok:     true,
			want: map[string]want{
				"btf": {Info, noBTF + "; nothing to change for uprobes"},
			},
		},
		{
			name:   "no uprobe PMU, uprobe_multi works",
			change: func(s *sim) { delete(s.files, "sys/bus/event_source/devices/uprobe/type") },
			ok:     true,
			want: map[string]want{
				"uprobe_pmu": {Warn, "uprobe_multi links work, --perf-event does not"},
			},
		},
		{
			name: "no uprobe PMU, no uprobe_multi",
			change: func(s *sim) {
				delete(s.files, "sys/bus/event_source/devices/uprobe/type")
				s.features.UprobeMulti = attach.Feature{Reason: noMulti}
			},
			want: map[string]want{
				"uprobe_pmu": {Fail, "uprobes cannot attach"},
			},
		},
		{
			name:   "no perf events",
			change: func(s *sim) { delete(s.files, "proc/sys/kernel/perf_event_paranoid") },
			want: map[string]want{
				"perf_event_paranoid": {Fail, "CONFIG_PERF_EVENTS"},
			},
		},
		{
			name:   "no BPF syscall",
			change: func(s *sim) { s.bpf = fmt.Errorf("load kprobe program: %w", ebpf.ErrNotSupported) },
			want: map[string]want{
				"bpf": {Fail, "CONFIG_BPF_SYSCALL=y"},
			},
		},
		{
			name:   "bpf fails otherwise",
			change: func(s *sim) { s.bpf = errors.New("load kprobe program: invalid argument") },
			want: map[string]want{
				"bpf": {Fail, "bpf() fails: load kprobe program: invalid argument"},
			},
		},
		{
			name:   "no unprivileged_bpf_disabled",
			change: func(s *sim) { delete(s.files, "proc/sys/kernel/unprivileged_bpf_disabled") },
			ok:     true,
			want: map[string]want{
				"unprivileged_bpf_disabled": {Info, "not present"},
			},
		},
		{
			name:   "arm64",
			change: func(s *sim) { s.features.OptimizedUprobes = attach.Feature{Reason: "only on x86-64"} },
			ok:     true,
			want: map[string]want{
				"optimized_uprobes": {Info, "only on x86-64"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			if tt.change != nil {
				tt.change(s)
			}
			r := Run(s.env(t))
			if len(r.Checks) != 15 {
				t.Errorf("got %d checks, want 15", len(r.Checks))
			}
			for name, w := range tt.want {
				c, ok := r.Find(name)
				if !ok {
					t.Errorf("no check %q", name)
					continue
				}
				if c.Status != w.status || !strings.Contains(c.Message, w.text) {
					t.Errorf("%s = %s %q\nwant %s containing %q", name, c.Status, c.Message, w.status, w.text)
				}
			}
			if r.OK() != tt.ok {
				var buf bytes.Buffer
				_ = r.WriteText(&buf)
				t.Errorf("OK() = %v, want %v\n%s", r.OK(), tt.ok, buf.String())
			}
			for _, c := range r.Checks {
				if strings.Contains(c.Message, "\n") || c.Message == "" {
					t.Errorf("%s: message must be one non-empty line: %q", c.Name, c.Message)
				}
			}
		})
	}
}

// The healthy simulation reports every check OK: nothing to change.
func TestRunHealthyAllOK(t *testing.T) {
	r := Run(healthy().env(t))
	for _, c := range r.Checks {
		if c.Status != OK {
			t.Errorf("%s = %s %q, want ok", c.Name, c.Status, c.Message)
		}
	}
}

// featureChecks are the checks that report a kernel capability, with the
// kernel that brings it.
var featureChecks = map[string]Version{
	"kernel":                    minRingBuf,
	"privileges":                {},
	"bpf":                       {},
	"perf_event_paranoid":       {},
	"uprobe_pmu":                {},
	"ref_ctr_offset":            minRefCtr,
	"uprobe_multi":              minMulti,
	"ringbuf":                   minRingBuf,
	"attach_cookie":             minCookies,
	"btf":                       {Major: 5, Minor: 2},
	"optimized_uprobes":         minOptimized,
	"unprivileged_bpf_disabled": {},
}

// On the machine the tests run on (as root), every feature is present.
func TestHostAllPresent(t *testing.T) {
	testutil.RequireRoot(t)
	env := Host()
	r := Run(env)
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("uscope doctor:\n%s", buf.String())
	if !r.OK() {
		t.Fatalf("doctor reports failures on this machine:\n%s", buf.String())
	}
	kernel, err := ParseRelease(env.Release)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checks {
		since, isFeature := featureChecks[c.Name]
		switch {
		case !isFeature:
			// tracefs and lockdown describe the setup, not the kernel:
			// not mounted is fine, a warning is not.
			if c.Status == Warn || c.Status == Fail {
				t.Errorf("%s = %s %q", c.Name, c.Status, c.Message)
			}
		case c.Name == "optimized_uprobes" && !kernel.AtLeast(since.Major, since.Minor):
			t.Logf("kernel %s predates optimized uprobes; not required", kernel)
		case c.Status != OK:
			t.Errorf("%s = %s %q, want ok (present)", c.Name, c.Status, c.Message)
		}
	}
}

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"6.18.44-fc-v669", Version{6, 18, 44}, false},
		{"5.4.0-150-generic", Version{5, 4, 0}, false},
		{"6.1", Version{6, 1, 0}, false},
		{"6.8.0", Version{6, 8, 0}, false},
		{"4.19.0+", Version{4, 19, 0}, false},
		{"6.10.0-rc3", Version{6, 10, 0}, false},
		{"6", Version{}, true},
		{"", Version{}, true},
		{"custom", Version{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRelease(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v            Version
		major, minor int
		want         bool
	}{
		{Version{6, 18, 0}, 6, 6, true},
		{Version{6, 6, 0}, 6, 6, true},
		{Version{6, 5, 9}, 6, 6, false},
		{Version{5, 19, 0}, 6, 0, false},
		{Version{7, 0, 0}, 6, 18, true},
	}
	for _, tt := range tests {
		if got := tt.v.AtLeast(tt.major, tt.minor); got != tt.want {
			t.Errorf("%v.AtLeast(%d, %d) = %v, want %v", tt.v, tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestParseCapEff(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"root", "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n", 0x1fffeffffff, false},
		{"none", "CapEff:\t0000000000000000\n", 0, false},
		{"missing", "Name:\tx\n", 0, true},
		{"garbage", "CapEff:\tzz\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseCapEff([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseCapEff = %#x, %v; want %#x, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestBracketedAndUnescape(t *testing.T) {
	tests := []struct {
		fn   func(string) string
		in   string
		want string
	}{
		{bracketed, "[none] integrity confidentiality", "none"},
		{bracketed, "none integrity [confidentiality]", "confidentiality"},
		{bracketed, "none", "none"},
		{unescapeMount, `/mnt/a\040b`, "/mnt/a b"},
		{unescapeMount, `/plain`, "/plain"},
		{unescapeMount, `/bad\04`, `/bad\04`},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportOutput(t *testing.T) {
	r := Report{Checks: []Check{
		{Name: "kernel", Status: OK, Message: "Linux 6.18"},
		{Name: "tracefs", Status: Info, Message: "not mounted"},
		{Name: "ringbuf", Status: Fail, Message: "missing"},
	}}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	wantText := "ok    kernel   Linux 6.18\ninfo  tracefs  not mounted\nFAIL  ringbuf  missing\n"
	if text.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), wantText)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, js.String())
	}
	if got.OK || len(got.Checks) != 3 || got.Checks[2].Status != "fail" || got.Checks[1].Status != "info" {
		t.Errorf("json = %+v", got)
	}
	if r.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", r.Failed())
	}
}

func TestStatusText(t *testing.T) {
	tests := []struct {
		s    Status
		text string
	}{{OK, "ok"}, {Info, "info"}, {Warn, "warn"}, {Fail, "fail"}}
	for _, tt := range tests {
		b, err := tt.s.MarshalText()
		if err != nil || string(b) != tt.text {
			t.Errorf("%v.MarshalText() = %q, %v; want %q", tt.s, b, err, tt.text)
		}
		var back Status
		if err := back.UnmarshalText(b); err != nil || back != tt.s {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, tt.s)
		}
	}
	if _, err := Status(9).MarshalText(); err == nil {
		t.Error("Status(9).MarshalText: no error")
	}
	var s Status
	if err := s.UnmarshalText([]byte("bad")); err == nil {
		t.Error(`UnmarshalText("bad"): no error`)
	}
}
