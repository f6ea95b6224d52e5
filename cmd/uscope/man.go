package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { commands = append(commands, newManCommand) }

func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man [DIR]",
		Short: "Write a man page for every uscope command into DIR",
		Long: `Man writes the manual pages of uscope and each of its commands, in section
1, into DIR (default: the current directory), creating it if needed. The
pages are generated from the same definitions as --help. SOURCE_DATE_EPOCH,
when set, fixes the date in the pages for reproducible builds.`,
		Example: `  uscope man /usr/local/share/man/man1 && man uscope-trace
  uscope man ./man && man -l ./man/uscope.1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if err := writeManPages(cmd.Root(), dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote man pages to %s\n", dir)
			return nil
		},
	}
}

// writeManPages writes one page per available command under root into dir.
// The pages are roff written here from the cobra definitions, not through
// a markdown renderer: such a library's package initialisation would run at
// the start of every uscope command (issue 22).
func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	date := time.Now()
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", epoch)
		}
		date = time.Unix(sec, 0)
	}
	m := manHeader{date: date.UTC().Format("Jan 2006"), source: "uscope " + currentVersion().Version, manual: "uscope manual"}
	root.InitDefaultHelpCmd()
	root.InitDefaultHelpFlag()
	return writeManTree(root, m, dir)
}

type manHeader struct{ date, source, manual string }

func writeManTree(c *cobra.Command, m manHeader, dir string) error {
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManTree(sub, m, dir); err != nil {
			return err
		}
	}
	name := strings.ReplaceAll(c.CommandPath(), " ", "-")
	path := filepath.Join(dir, name+".1")
	if err := os.WriteFile(path, manPage(c, name, m), 0o644); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}

// manPage renders the page of c: NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
// OPTIONS INHERITED FROM PARENT COMMANDS, EXAMPLE, SEE ALSO.
func manPage(c *cobra.Command, name string, m manHeader) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, ".nh\n.TH \"%s\" \"1\" \"%s\" \"%s\" \"%s\"\n", strings.ToUpper(name), m.date, roffEscape(m.source), m.manual)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", name, roffEscape(c.Short))
	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, "\\fB%s\\fP\n", roffEscape(c.UseLine()))
	b.WriteString(".SH DESCRIPTION\n")
	long := c.Long
	if long == "" {
		long = c.Short
	}
	b.WriteString(roffText(long))
	manFlags(&b, "OPTIONS", c.NonInheritedFlags())
	manFlags(&b, "OPTIONS INHERITED FROM PARENT COMMANDS", c.InheritedFlags())
	if c.Example != "" {
		b.WriteString(".SH EXAMPLE\n.EX\n")
		for _, line := range strings.Split(strings.TrimRight(c.Example, "\n"), "\n") {
			b.WriteString(roffLine(line))
			b.WriteByte('\n')
		}
		b.WriteString(".EE\n")
	}
	var see []string
	if c.HasParent() {
		see = append(see, strings.ReplaceAll(c.Parent().CommandPath(), " ", "-"))
	}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			see = append(see, strings.ReplaceAll(sub.CommandPath(), " ", "-"))
		}
	}
	if len(see) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		for i, s := range see {
			sep := ","
			if i == len(see)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "\\fB%s\\fP(1)%s\n", roffEscape(s), sep)
		}
	}
	return []byte(b.String())
}

func manFlags(b *strings.Builder, title string, fs *pflag.FlagSet) {
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", title)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		b.WriteString(".TP\n")
		var head string
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			head = "\\fB-" + f.Shorthand + "\\fP, "
		}
		head += "\\fB--" + roffEscape(f.Name) + "\\fP"
		if varname, _ := pflag.UnquoteUsage(f); varname != "" {
			head += " " + roffEscape(varname)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			head += "[=" + roffEscape(f.DefValue) + "]"
		}
		b.WriteString(head + "\n")
		_, usage := pflag.UnquoteUsage(f)
		b.WriteString(roffText(usage))
	})
}

// roffText renders paragraphs separated by blank lines; lines indented by
// spaces or a tab stay as they are (examples, tables).
func roffText(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			b.WriteString(".PP\n")
		case strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t"):
			b.WriteString(".br\n" + roffLine(line) + "\n")
		default:
			b.WriteString(roffLine(line) + "\n")
		}
	}
	return b.String()
}

// roffLine escapes a line of text so that roff prints it as written.
func roffLine(s string) string {
	s = roffEscape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = "\\&" + s
	}
	return s
}

var roffEscaper = strings.NewReplacer(`\`, `\\`, "-", `\-`)

func roffEscape(s string) string { return roffEscaper.Replace(s) }
