package compile

import (
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// bpftrace 0.17's environment names of renamed config keys still set them
// (0.17's runtime test "cat limited output" sets BPFTRACE_CAT_BYTES_MAX=1);
// main's name wins when both are set.
func TestConfigEnvV017Names(t *testing.T) {
	prog, err := lang.Parse("t", `BEGIN { cat("/proc/loadavg"); exit(); }`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{"BPFTRACE_CAT_BYTES_MAX": "1"}, 1},
		{map[string]string{"BPFTRACE_MAX_CAT_BYTES": "7"}, 7},
		{map[string]string{"BPFTRACE_CAT_BYTES_MAX": "1", "BPFTRACE_MAX_CAT_BYTES": "7"}, 7},
	} {
		p, err := Compile(prog, Options{Resolver: fakeResolver{}, ConfigEnv: tc.env})
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if p.Config.MaxCatBytes != tc.want {
			t.Errorf("%v: max_cat_bytes %d, want %d", tc.env, p.Config.MaxCatBytes, tc.want)
		}
	}
	for k, want := range map[string]string{"BPFTRACE_STRLEN": "max_strlen", "BPFTRACE_MAP_KEYS_MAX": "max_map_keys", "BPFTRACE_MAX_STRLEN": "max_strlen"} {
		if got, skip := envConfigKey(map[string]string{k: "1"}, k); got != want || skip {
			t.Errorf("%s: key %q skip %v, want %q", k, got, skip, want)
		}
	}
}
