// Package proc reads what uscope needs to know about running processes:
// their memory mappings and the ELF objects mapped executable in them (with
// paths that work across mount namespaces and for deleted files), their
// executable and root, and how the dynamic loader would find a library by
// its short name (/etc/ld.so.cache, read directly) or a program by its name
// (PATH).
//
// The common path:
//
//	objs, err := proc.Objects(pid)   // executable, libraries, memfds
//	for _, o := range objs {
//		// attach uprobes through o.OpenPath; o.RuntimeAddr(linkAddr)
//	}
//	c, err := proc.ReadLDCache(proc.DefaultLDCachePath)
//	e, ok := c.Lookup("libssl.so.3") // a library short name → its path
//
// API:
//
//   - Processes: [Exists], [Exe], [Root], [Dir]; [Maps], [ParseMaps],
//     [ParseMapsLine] ([Mapping], [Perms]); [Objects] ([Object] with
//     OpenPath, load bias, [Object.RuntimeAddr], [Object.LinkAddr]).
//   - Libraries and programs: [ReadLDCache], [ParseLDCache], [LDCache.Lookup]
//     ([LDCacheEntry]); [LookPath].
//   - Errors: [ErrNoProcess] and [*NoProcessError] (errors.Is/As).
package proc
