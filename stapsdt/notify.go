package stapsdt

// loaded is called by Load once a provider's object is mapped, before any
// of its probes can fire. It does nothing: it is the notification a tracer
// that started before the provider existed can hook (a uprobe on
// github.com/uscope/uscope/stapsdt.loaded, as uscope does with -p and -c),
// so that it reads the process's mappings again and attaches the new
// probes before the first one fires, the way debuggers hook the dynamic
// linker's _dl_debug_state to see dlopen.
//
//go:noinline
func loaded() {}
