package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/doctor"
)

func init() { commands = append(commands, newDoctorCommand) }

// doctorEnv returns the machine doctor examines; tests replace it to
// simulate other machines.
var doctorEnv = doctor.Host

func newDoctorCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check what this machine lets uscope do, and what to change",
		Long: `Doctor checks the kernel version, privileges (root, or CAP_BPF,
CAP_PERFMON and CAP_SYS_ADMIN), the bpf() syscall, perf_event_paranoid, the
uprobe PMU, the kernel features uscope uses (uprobe_multi, ref_ctr_offset,
ring buffer, attach cookies, BTF, optimized uprobes), tracefs, kernel lockdown
and unprivileged_bpf_disabled. It prints one line per check:

    ok    works
    info  nothing to change (an optional item)
    warn  uscope works, slower or without a feature; the line says the fix
    FAIL  uscope cannot trace until this is fixed; the line says how

Doctor exits 0 when nothing uscope needs is missing, 1 otherwise. Run it as
the user that will run uscope: some checks need root to probe the kernel.`,
		Example: `  sudo uscope doctor
  uscope doctor --json | jq -r '.checks[] | select(.status != "ok") | .message'
  sudo uscope doctor && sudo uscope list /bin/bash 'read*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := doctor.Run(doctorEnv())
			write := r.WriteText
			if asJSON {
				write = r.WriteJSON
			}
			if err := write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if n := r.Failed(); n > 0 {
				// Exit 1: the machine, not the kernel side of a trace, is
				// what needs fixing.
				return &exitError{code: exitUsage, err: fmt.Errorf("%d check(s) failed: fix the FAIL lines above", n)}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print one JSON object: {"ok": bool, "checks": [{"name", "status", "message"}]}`)
	return c
}
