package lang

import "testing"

// oneLiners are bpftrace programs for userspace probes in the shapes people
// use every day; each must parse and survive a Format round trip.
var oneLiners = []string{
	`uprobe:libc:malloc { @bytes = hist(arg0); }`,
	`uprobe:libc:malloc /comm == "nginx"/ { @sizes[comm] = hist(arg0); }`,
	`uprobe:libc:malloc { @[ustack] = sum(arg0); }`,
	`uprobe:libc:malloc { @[ustack(perf, 10)] = count(); }`,
	`u:libc:malloc { @[comm] = count(); } interval:s:1 { print(@); clear(@); }`,
	`uprobe:libc:free { @frees = count(); } END { printf("frees: %d\n", @frees); }`,
	`uretprobe:/bin/bash:readline { printf("read a line: \"%s\"\n", str(retval)); }`,
	`uretprobe:/bin/bash:readline /pid == $1/ { printf("%s\n", str(retval)); }`,
	`ur:/bin/bash:readline { printf("%-6d %s\n", pid, str(retval)); }`,
	`uprobe:/bin/bash:readline { @start[tid] = nsecs; } uretprobe:/bin/bash:readline /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }`,
	`uprobe:libc:open { printf("%s %s\n", comm, str(arg0)); }`,
	`uprobe:libc:openat { printf("%d %s\n", pid, str(arg1)); }`,
	`uprobe:/lib/x86_64-linux-gnu/libc.so.6:fopen { printf("%s\n", str(arg0)); }`,
	`uprobe:libc:getaddrinfo { @start[tid] = nsecs; @host[tid] = arg0; }
	 uretprobe:libc:getaddrinfo /@start[tid]/ {
		$lat = (nsecs - @start[tid]) / 1e6;
		printf("%-8d %-16s %6d %s\n", pid, comm, (nsecs - @start[tid]) / 1000000, str(@host[tid]));
		delete(@start[tid]); delete(@host[tid]);
	 }`,
	`usdt:/usr/bin/python3:python:function__entry { @[str(arg1)] = count(); }`,
	`usdt:/usr/bin/python3:function__entry { printf("%s:%d %s\n", str(arg0), arg2, str(arg1)); }`,
	`U:/usr/lib/jvm/java/lib/server/libjvm.so:hotspot:gc__begin { @gc_start = nsecs; }`,
	`usdt::ruby:method__entry { @[str(arg0), str(arg1)] = count(); }`,
	`usdt:/usr/sbin/mysqld:mysql:query__start { printf("%s\n", str(arg0)); }`,
	`usdt:/usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp { @jmps[comm] = count(); }`,
	`uprobe:libpthread:pthread_create { printf("%s created a thread at %s\n", comm, usym(arg2)); }`,
	`uprobe:libc:pthread_create { @[comm, usym(arg2)] = count(); }`,
	`uprobe:libssl:SSL_write { @bytes[comm] = sum(arg2); }`,
	`uprobe:libssl:SSL_read, uprobe:libssl:SSL_write { @start[tid] = nsecs; }
	 uretprobe:libssl:SSL_read, uretprobe:libssl:SSL_write /@start[tid]/ {
		@us[probe] = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]);
	 }`,
	`uretprobe:libc:malloc /retval == 0/ { printf("malloc failed in %s\n", comm); }`,
	`uretprobe:libc:read /(int64)retval < 0/ { @errors[comm, -(int64)retval] = count(); }`,
	`uprobe:libc:write /arg0 == 1/ { @stdout_bytes = sum(arg2); }`,
	`uprobe:libc:write /arg0 == 1/ { printf("%s", str(arg1, arg2)); }`,
	`uprobe:libc:strlen { @len = lhist(arg0 < 100 ? arg0 : 100, 0, 100, 10); }`,
	`uprobe:libc:malloc { @stats = stats(arg0); @max = max(arg0); @min = min(arg0); @avg = avg(arg0); }`,
	`uprobe:libc:malloc /arg0 >= 1024 * 1024/ { printf("%s big alloc %d\n%s\n", comm, arg0, ustack); }`,
	`uprobe:/usr/local/bin/myapp:"main.(*Server).handle" { @[tid] = nsecs; }`,
	`uprobe:/usr/local/bin/myapp:main.handleRequest { @calls = count(); }`,
	`uprobe:/usr/bin/app:cpp:"MyApp::Server::*" { @[func] = count(); }`,
	`uprobe:./a.out:main+0x10 { printf("at main+16: rdi=%lx\n", reg("di")); }`,
	`uprobe:/bin/x:0x401136 { @hits = count(); }`,
	`uprobe:*:SSL_* { @[probe] = count(); }`,
	`uprobe::main { printf("main of %d\n", pid); }`,
	`BEGIN { printf("Tracing... Hit Ctrl-C to end.\n"); }`,
	`BEGIN { @start = nsecs; } END { printf("ran %d ms\n", (nsecs - @start) / 1000000); }`,
	`interval:s:10 { exit(); }`,
	`interval:ms:100 { @ticks++; }`,
	`i:s:1 { time("%H:%M:%S\n"); print(@bytes); clear(@bytes); }`,
	`END { print(@, 10); clear(@); }`,
	`uprobe:libc:malloc { @[comm] = count(); } END { print(@, 5); }`,
	`uprobe:libc:malloc { $s = arg0; if ($s > 4096) { @big++; } else { @small++; } }`,
	`uprobe:libc:memcpy { $i = 0; while ($i < 4) { @b[$i] = *(uint8 *)(arg1 + $i); $i++; } }`,
	`uprobe:libc:memcpy { unroll(4) { @n++; } }`,
	`uprobe:libc:connect { $sa = (struct sockaddr *)arg1; @fam[$sa->sa_family] = count(); }`,
	`uprobe:libc:puts { printf("%c%c\n", *(uint8 *)arg0, *(uint8 *)(arg0 + 1)); }`,
	`uprobe:libc:malloc { @hist[comm, pid] = hist(arg0); @last[tid] = (arg0, nsecs); }`,
	`uprobe:libc:malloc { $t = (arg0, nsecs); @x = $t.0; }`,
	`uprobe:libc:free /has_key(@live, arg0)/ { delete(@live, arg0); }`,
	`uprobe:libc:malloc { @sz[tid] = arg0; } uretprobe:libc:malloc /@sz[tid]/ { @live[retval] = @sz[tid]; delete(@sz[tid]); }`,
	`uretprobe:/bin/bash:readline /strncmp(str(retval), "sudo", 4) == 0/ { printf("%s\n", str(retval)); }`,
	`uretprobe:/bin/bash:readline /strcontains(str(retval), "rm -rf")/ { printf("careful: %s\n", str(retval)); }`,
	`uprobe:libc:system { printf("%s: %s\n", comm, str(arg0)); @cmds[str(arg0)] = count(); }`,
	`uprobe:libc:execve { join(arg1); }`,
	`uprobe:libc:kill { printf("%d -> pid %d sig %d\n", pid, (int32)arg0, (int32)arg1); }`,
	`uprobe:libc:nanosleep { @ts = ((uint64 *)arg0)[0]; }`,
	`uprobe:libc:malloc { @[comm] = count(); @total += arg0; @by_cpu[cpu] = sum(arg0); @uid[uid, gid] = count(); }`,
	`uprobe:libc:malloc { @x = elapsed; @y = cgroup; @z = rand; @w = numaid; @v = ncpus; @u = username; }`,
	`uprobe:libc:malloc { if (@seen[tid] == 0) { @seen[tid] = 1; } else { return; } }`,
	`uprobe:libc:malloc { @a = 0x10 | 0x1 & ~0x2 ^ 1 << 3 >> 1; @b = !@a; }`,
	`uprobe:libc:malloc { print(("tuple", 1, comm)); }`,
	`uprobe:libc:malloc { @x = comm == "bash" ? 1 : 0; }`,
	`uprobe:libc:malloc { printf("%x %p %lu %llx %-10s|\n", arg0, arg0, arg0, arg0, comm); }`,
	`/* comment first */ uprobe:libc:malloc // trailing
	{ @n++ } // done`,
	"#!/usr/bin/env bpftrace\nuprobe:libc:malloc { @n++ }\n",
	`uprobe:"/opt/my app/bin/server":handle { @n++ }`,
	`uprobe:libc:malloc { @h = hist(arg0, 2); }`,
	`uprobe:libc:malloc { $x = $1; $y = str($2); }`,
	`uprobe:libc:malloc { @[kstack] = count(); }`,
	`uprobe:libc:malloc { signal("KILL"); }`,
	`uprobe:libc:malloc { zero(@); }`,
}

func TestOneLiners(t *testing.T) {
	for _, src := range oneLiners {
		t.Run(src, func(t *testing.T) {
			p := mustParse(t, src)
			checkPositions(t, p)
			checkRoundTrip(t, p)
		})
	}
}
