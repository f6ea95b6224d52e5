package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// unknownCommand turns cobra's error for a tool name that does not exist
// (several lines, "Did you mean this?") into one line with the nearest
// tool names; other errors stay as they are.
func unknownCommand(root *cobra.Command, args []string, err error) error {
	c, rest, ferr := root.Find(args)
	if ferr == nil || c != root {
		return err
	}
	for _, name := range rest {
		if strings.HasPrefix(name, "-") {
			continue
		}
		msg := fmt.Sprintf("unknown command %q", name)
		if s := root.SuggestionsFor(name); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, ", ") + "?"
		}
		return usageError(errors.New(msg + " (see 'uscope --help' for the tools)"))
	}
	return err
}
