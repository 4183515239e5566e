package cli

import (
	"strings"
	"testing"
)

// TestEveryHelpExitsZero: `omniroi COMMAND --help` (and -h) prints the command's usage on
// stdout and exits 0 for every command, those with subcommands included.
func TestEveryHelpExitsZero(t *testing.T) {
	for name := range commands {
		for _, flag := range []string{"--help", "-h"} {
			code, out, errs := runCLI(t, name, flag)
			if code != 0 {
				t.Errorf("omniroi %s %s: exit %d\n%s", name, flag, code, errs)
				continue
			}
			if !strings.Contains(out, "usage") && !strings.Contains(out, "Usage") {
				t.Errorf("omniroi %s %s printed no usage on stdout:\n%s", name, flag, out)
			}
		}
	}
}
