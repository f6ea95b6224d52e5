#!/usr/bin/env bash
# Release build: static uscope binaries (CGO_ENABLED=0) for each
# architecture, stamped with the version; per architecture a tarball
# (binary, man pages, shell completions, README) and a .deb built with
# dpkg-deb; SHA256SUMS over all of them.
#
#   release/build.sh [OUTDIR]          (default: dist)
#   VERSION=1.2.0 ARCHES="amd64 arm64" release/build.sh dist
#
# VERSION defaults to `git describe` (a leading v dropped), or
# 0.0.0+git<date>.<commit> when no tag exists. ARCHES defaults to
# "amd64 arm64". Man pages and completions come from the build host's
# binary (`uscope man`, `uscope completion`): they are the same text for
# every architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
arches=${ARCHES:-amd64 arm64}
if [ -z "${VERSION:-}" ]; then
	if VERSION=$(git describe --tags --dirty 2>/dev/null); then
		VERSION=${VERSION#v}
	else
		VERSION="0.0.0+git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	fi
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # GOARCH OUTPUT
	CGO_ENABLED=0 GOOS=linux GOARCH=$1 go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.version=$VERSION" -o "$2" ./cmd/uscope
}

# Docs from a binary that runs here (the release binary itself when the
# host's architecture is released, so that it is built once).
host=$(go env GOARCH)
build "$host" "$work/uscope-host"
mkdir -p "$work/docs/man" "$work/docs/completions"
"$work/uscope-host" man "$work/docs/man" 2>/dev/null
"$work/uscope-host" completion bash >"$work/docs/completions/uscope.bash"
"$work/uscope-host" completion zsh >"$work/docs/completions/_uscope"
"$work/uscope-host" completion fish >"$work/docs/completions/uscope.fish"

for arch in $arches; do
	name="uscope-$VERSION-linux-$arch"
	stage="$work/$name"
	mkdir -p "$stage"
	if [ "$arch" = "$host" ]; then
		cp "$work/uscope-host" "$stage/uscope"
	else
		build "$arch" "$stage/uscope"
	fi
	cp -r "$work/docs/man" "$work/docs/completions" "$stage/"
	cp README.md "$stage/"
	tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-czf "$out/$name.tar.gz" "$name"

	# The .deb: /usr/bin/uscope, man pages, completions.
	root="$work/deb-$arch"
	install -D -m 0755 "$stage/uscope" "$root/usr/bin/uscope"
	mkdir -p "$root/usr/share/man/man1"
	for page in "$work"/docs/man/*.1; do
		gzip -9n <"$page" >"$root/usr/share/man/man1/$(basename "$page").gz"
	done
	install -D -m 0644 "$work/docs/completions/uscope.bash" "$root/usr/share/bash-completion/completions/uscope"
	install -D -m 0644 "$work/docs/completions/_uscope" "$root/usr/share/zsh/vendor-completions/_uscope"
	install -D -m 0644 "$work/docs/completions/uscope.fish" "$root/usr/share/fish/vendor_completions.d/uscope.fish"
	mkdir -p "$root/DEBIAN"
	cat >"$root/DEBIAN/control" <<CONTROL
Package: uscope
Version: $VERSION
Architecture: $arch
Maintainer: uscope developers <uscope@localhost>
Section: devel
Priority: optional
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Homepage: https://github.com/uscope/uscope
Description: trace userspace programs with eBPF (uprobes, uretprobes, USDT)
 uscope compiles programs in a bpftrace-compatible language and bcc trace
 specs to BPF at run time and attaches them to userspace programs; one
 static binary, no clang, LLVM or kernel headers.
CONTROL
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out/uscope_${VERSION}_$arch.deb" >/dev/null
done

(cd "$out" && sha256sum uscope-"$VERSION"-linux-*.tar.gz uscope_"$VERSION"_*.deb >SHA256SUMS)
echo "release $VERSION in $out:"
(cd "$out" && ls -1 uscope-"$VERSION"-linux-*.tar.gz uscope_"$VERSION"_*.deb SHA256SUMS)
