# The uscope image: the static binary alone, nothing else (no shell, no
# libc: uscope needs neither). The build context is a directory holding
# the binary, so that no toolchain image has to be pulled:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=1.0.0" -o dist/uscope ./cmd/uscope
#   podman build -f Dockerfile -t uscope:1.0.0 dist     # or docker build
#
# deploy/kubernetes/ runs it as a DaemonSet (`uscope agent`).
FROM scratch
COPY uscope /usr/bin/uscope
ENTRYPOINT ["/usr/bin/uscope"]
CMD ["agent", "--config", "/etc/uscope/agent.yaml"]
