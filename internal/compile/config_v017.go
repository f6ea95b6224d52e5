package compile

import "strings"

// envRenamed are bpftrace 0.17's environment variables whose config keys
// main renamed (its config.cpp RENAMED list): BPFTRACE_STRLEN,
// BPFTRACE_CAT_BYTES_MAX, BPFTRACE_MAP_KEYS_MAX. Main ignores them in the
// environment; uscope honours them, so 0.17's settings keep working, unless
// main's name is set too.
var envRenamed = map[string]string{
	"strlen":        "max_strlen",
	"cat_bytes_max": "max_cat_bytes",
	"map_keys_max":  "max_map_keys",
}

// envConfigKey is the config key of the environment variable k of env
// (BPFTRACE_MAX_STRLEN: max_strlen); skip is set for a 0.17 name whose
// main name env also holds.
func envConfigKey(env map[string]string, k string) (key string, skip bool) {
	key = strings.ToLower(strings.TrimPrefix(k, "BPFTRACE_"))
	if to, ok := envRenamed[key]; ok {
		if _, both := env["BPFTRACE_"+strings.ToUpper(to)]; both {
			return to, true
		}
		return to, false
	}
	return key, false
}
