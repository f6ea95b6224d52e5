package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell  string
		marker string // a line only that shell's script has
		check  []string
	}{
		{"bash", "__start_uscope()", []string{"-n"}},
		{"zsh", "#compdef uscope", []string{"-n"}},
		{"fish", "complete -c uscope", []string{"--no-execute"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out, errOut, code := inProcess(t, "completion", tt.shell)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if len(out) < 1000 || !strings.Contains(out, tt.marker) {
				t.Fatalf("script is %d bytes and lacks %q:\n%.500s", len(out), tt.marker, out)
			}
			// Check the syntax with the shell itself: bash always (the
			// tests need it), zsh and fish when installed.
			sh, err := exec.LookPath(tt.shell)
			if tt.shell == "bash" {
				sh = testutil.RequireTool(t, "bash")
			} else if err != nil {
				t.Logf("%s not installed: syntax not checked", tt.shell)
				return
			}
			file := filepath.Join(t.TempDir(), "uscope."+tt.shell)
			if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(sh, append(tt.check, file)...).CombinedOutput(); err != nil {
				t.Errorf("%s %v rejects the script: %v\n%s", tt.shell, tt.check, err, b)
			}
		})
	}
}

func TestCompletionErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"completion"}, "name one shell: uscope completion bash|zsh|fish"},
		{[]string{"completion", "bash", "zsh"}, "name one shell"},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh": uscope completes bash, zsh and fish`},
	}
	for _, tt := range tests {
		_, errOut, code := inProcess(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, exitUsage, tt.want)
		}
	}
}

// The bash script completes subcommands and flags by asking the binary.
func TestCompletionBashCompletes(t *testing.T) {
	bash := testutil.RequireTool(t, "bash")
	bin := buildTool(t)
	tests := []struct {
		line string
		want []string
	}{
		{"uscope do", []string{"doctor"}},
		{"uscope completion ", []string{"bash", "fish", "zsh"}},
		{"uscope version --j", []string{"--json"}},
	}
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		// The script needs bash-completion's _get_comp_words_by_ref; use
		// the package when installed, else a minimal stand-in.
		script := `if [ -r /usr/share/bash-completion/bash_completion ]; then
  source /usr/share/bash-completion/bash_completion
fi
if ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() {
    cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
fi
source <(uscope completion bash)
COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
__start_uscope
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"-c", script, "bash", tt.line}, words...)...)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tt.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("completing %q: got %q, want %q among them", tt.line, got, w)
			}
		}
	}
}
