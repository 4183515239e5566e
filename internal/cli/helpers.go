package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Helpers the store commands share, so that each command file says only what is its own.

// storeFlagSet makes c's flag set with --data, --db and --json already on it.
func storeFlagSet(c *Command, env *Env) (*flag.FlagSet, *StoreFlags) {
	fs := FlagSet(c, env)
	sf := new(StoreFlags)
	sf.Register(fs)
	return fs, sf
}

// idParseArgs parses flags that may come before or after positional arguments.
func idParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseNoArgs parses the flags of a command that takes no positional argument
// (they may stand anywhere); any positional argument is ErrUsage.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := idParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return ErrUsage
	}
	return nil
}

// parseSub takes the subcommand off args ("source add NAME") and parses the flags around
// its positional arguments. want lists, per subcommand, the numbers of positional
// arguments it takes; no subcommand, an unknown one or another count is ErrUsage.
// Flag errors come first, as they did when each command parsed on its own.
func parseSub(fs *flag.FlagSet, args []string, want map[string][]int) (sub string, pos []string, err error) {
	if len(args) == 0 {
		return "", nil, ErrUsage
	}
	sub = args[0]
	if pos, err = idParseArgs(fs, args[1:]); err != nil {
		return "", nil, err
	}
	if !slices.Contains(want[sub], len(pos)) {
		return "", nil, ErrUsage
	}
	return sub, pos, nil
}

// printRows prints a listing: as JSON (an empty list, not null, when there are no rows)
// or as a space-aligned table under header, row writing one tab-separated line.
func printRows[T any](env *Env, asJSON bool, rows []T, header string, row func(w io.Writer, r T)) error {
	if asJSON {
		if rows == nil {
			rows = []T{}
		}
		return PrintJSON(env.Stdout, rows)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		row(tw, r)
	}
	return tw.Flush()
}
