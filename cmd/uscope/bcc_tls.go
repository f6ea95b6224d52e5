package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/tools"
)

// bcc's sslsniff under its name, with bcc's flags and layout, over the
// program and target discovery of uscope tls.

func init() { commands = append(commands, newSslsniffCommand) }

func newSslsniffCommand() *cobra.Command {
	var (
		f                          tlsFlags
		uid                        int
		extra, hexdump, handshake  bool
		noOpenSSL, noGnuTLS, noNSS bool
		debug                      int
		maxBuffer                  int
		extraLibs                  []string
	)
	c := &cobra.Command{
		Use:   "sslsniff [-p PID] [-u UID] [-x] [-c COMM] [-o] [-g] [-n] [-d] [--hexdump] [--max-buffer-size N] [-l] [--handshake] [--extra-lib TYPE:PATH] [--cmd CMD]",
		Short: "bcc's sslsniff: print the plaintext of OpenSSL, GnuTLS and NSS reads and writes",
		Long: `Sslsniff is bcc's sslsniff with bcc's flags and layout: FUNC (WRITE/SEND,
READ/RECV, HANDSHAKE with -l --handshake) TIME(s) since the first event,
COMM, PID, LEN (-x adds UID and TID, -l LAT(ms)), then the data between
"----- DATA -----" and "----- END DATA -----" (decoded as UTF-8, or 32 hex
digits a line with --hexdump); data longer than the capture ends with
"(TRUNCATED, N bytes lost)". -o, -g and -n leave out OpenSSL, GnuTLS and
NSS; --extra-lib openssl:PATH (gnutls:, nss:) adds a library; -c keeps the
processes named COMM, -u one user's; --cmd CMD runs a command. The capture
is at most ` + fmt.Sprint(tools.MaxTLSBytes) + ` bytes of each call (--max-buffer-size lowers it). Libraries
and processes are found as uscope tls finds them (its help says how).`,
		Example: `  uscope sslsniff
  uscope sslsniff -l --handshake
  uscope sslsniff --hexdump -p $(pidof curl)
  uscope sslsniff --extra-lib openssl:/var/lib/docker/overlay2/l/S4EMHE/lib/libssl.so.1.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxBuffer < 1 {
				return toolError(cmd, fmt.Errorf("--max-buffer-size %d: give a positive number of bytes", maxBuffer))
			}
			for _, e := range extraLibs {
				typ, path, ok := strings.Cut(e, ":")
				if !ok || !slices.Contains([]string{"openssl", "gnutls", "nss"}, typ) || path == "" {
					return toolError(cmd, fmt.Errorf("--extra-lib %q: write TYPE:PATH, TYPE one of openssl, gnutls, nss", e))
				}
				f.libs = append(f.libs, path)
			}
			targets, err := tools.FindTLSTargets(f.find())
			if err != nil {
				return toolError(cmd, err)
			}
			if len(extraLibs) > 0 && len(f.libs) == len(extraLibs) {
				// bcc adds the extra libraries to those it finds.
				f.libs = nil
				if found, err := tools.FindTLSTargets(f.find()); err == nil {
					targets = append(found, targets...)
				}
			}
			targets = slices.DeleteFunc(targets, func(t tools.TLSTarget) bool {
				switch t.Library {
				case tools.OpenSSL, tools.OpenSSLBIO:
					return noOpenSSL
				case tools.GnuTLS:
					return noGnuTLS
				case tools.NSS:
					return noNSS
				}
				return false
			})
			if len(targets) == 0 {
				return toolError(cmd, fmt.Errorf("-o, -g and -n left no TLS library to trace"))
			}
			tool, err := tools.TLS(tools.TLSOptions{Targets: targets, Latency: f.latency, Has: tools.TLSHas})
			if err != nil {
				return toolError(cmd, err)
			}
			if f.program {
				fmt.Fprint(cmd.OutOrStdout(), lang.Format(tool.Program))
				return nil
			}
			if debug > 0 {
				fmt.Fprint(cmd.ErrOrStderr(), lang.Format(tool.Program))
			}
			cfg, err := f.sf.config(tool.Program)
			if err != nil {
				return err
			}
			cfg.StrSize = min(maxBuffer, tools.MaxTLSBytes)
			if !cmd.Flags().Changed("uid") {
				uid = -1
			}
			out, closeOut, err := f.outputs(cmd)
			if err != nil {
				return err
			}
			defer closeOut()
			p := &tools.TLSPrinter{Out: out, JSON: f.json, Comm: f.comm, UID: uid, Hex: hexdump, Latency: f.latency,
				BCC: true, Extra: extra, Handshake: handshake, MaxBuffer: maxBuffer, Start: monotonicNow(), Wall: time.Now()}
			cfg.Printf = p.Printf
			cfg.Attached = func(int) { p.Header() }
			cfg.Report = func([]*output.Map, bool) {}
			return plainToolError(runSession(cmd.Context(), cfg), tools.ProgramFile("tls"))
		},
	}
	f.sf.registerBCC(c)
	c.Flags().IntVarP(&uid, "uid", "u", -1, "sniff this `UID` only")
	c.Flags().BoolVarP(&extra, "extra", "x", false, "show extra fields (UID, TID)")
	c.Flags().StringVarP(&f.comm, "comm", "c", "", "sniff only commands matching `COMM`")
	c.Flags().BoolVarP(&noOpenSSL, "no-openssl", "o", false, "do not show OpenSSL calls")
	c.Flags().BoolVarP(&noGnuTLS, "no-gnutls", "g", false, "do not show GnuTLS calls")
	c.Flags().BoolVarP(&noNSS, "no-nss", "n", false, "do not show NSS calls")
	c.Flags().CountVarP(&debug, "debug", "d", "debug mode: print the program (in uscope's language) on standard error")
	c.Flags().BoolVar(&hexdump, "hexdump", false, "show data as hexdump instead of trying to decode it as UTF-8")
	c.Flags().IntVar(&maxBuffer, "max-buffer-size", 8192, "size of captured buffer (uscope captures at most "+fmt.Sprint(tools.MaxTLSBytes)+" bytes)")
	c.Flags().BoolVarP(&f.latency, "latency", "l", false, "show function latency")
	c.Flags().BoolVar(&handshake, "handshake", false, "show SSL handshake latency, enabled only if latency option is on")
	c.Flags().StringArrayVar(&extraLibs, "extra-lib", nil, "intercept calls from extra library (format: `lib_type:lib_path`)")
	c.Flags().BoolVar(&f.program, "program", false, "print the program in uscope's language that the tool runs, and exit")
	// -o is bcc's --no-openssl here: the output file is --output only.
	c.Flags().StringVarP(&f.format, "format", "f", "text", "output `FORMAT`: text (bcc's layout), or json (one JSON object per read or write, as uscope tls -f json)")
	c.Flags().StringVar(&f.output, "output", "", "write the output to `FILE` instead of standard output (-o is bcc's --no-openssl)")
	return c
}
