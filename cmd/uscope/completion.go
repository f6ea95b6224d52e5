package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newCompletionCommand) }

// completionShells maps each supported shell to cobra's generator for it.
var completionShells = map[string]func(root *cobra.Command, w io.Writer) error{
	"bash": func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) },
	"zsh":  func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) },
	"fish": func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) },
}

func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script for bash, zsh or fish",
		Long: `Completion prints a script that makes your shell complete uscope's
commands and flags. Load it in the current shell, or install it where your
shell looks for completions (see the examples). The bash script needs the
bash-completion package (apt install bash-completion).`,
		Example: `  source <(uscope completion bash)
  uscope completion bash | sudo tee /etc/bash_completion.d/uscope
  uscope completion zsh > "${fpath[1]}/_uscope"
  uscope completion fish > ~/.config/fish/completions/uscope.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(errors.New("name one shell: uscope completion bash|zsh|fish"))
			}
			if _, ok := completionShells[args[0]]; !ok {
				return usageError(fmt.Errorf("unknown shell %q: uscope completes bash, zsh and fish", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := completionShells[args[0]](cmd.Root(), cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("write %s completion: %w", args[0], err)
			}
			return nil
		},
	}
}
