// Package cli holds omniroi's subcommands. Each command lives in a file of its own and
// registers itself; flags have OMNIROI_* environment-variable equivalents.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/omniroi/omniroi/internal/store"
)

// Version is set at build time with -ldflags "-X github.com/omniroi/omniroi/internal/cli.Version=v1.2.3".
var Version = "dev"

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string // one line, shown in `omniroi --help`
	Usage   string // e.g. "omniroi source add NAME [--json]"; more lines allowed
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a command talks to; tests swap the writers.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Log    *slog.Logger
}

// ErrUsage makes Main print the command's usage and exit 2.
var ErrUsage = errors.New("usage")

var commands = map[string]*Command{}

// Register adds a command; called from init functions.
func Register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// Main runs omniroi with args (without the program name) and returns the exit code.
func Main(args []string) int {
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}
	if term.IsTerminal(int(os.Stdout.Fd())) {
		env.Stdout = &termSafe{w: os.Stdout}
	}
	env.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(env.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, env, args)
}

// Run dispatches args to a command.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintln(env.Stdout, usageText(c))
				return 0
			}
		}
		printHelp(env.Stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "omniroi: unknown command %q\n\n", args[0])
		printHelp(env.Stderr)
		return 2
	}
	if len(args) == 2 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help") {
		// A command's help, commands with subcommands included: asked for, so exit 0.
		fmt.Fprintln(env.Stdout, usageText(c))
		return 0
	}
	err := c.Run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(env.Stderr, usageText(c))
		return 2
	default:
		fmt.Fprintf(env.Stderr, "omniroi %s: %v\n", c.Name, err)
		return 1
	}
}

func usageText(c *Command) string {
	u := c.Usage
	if u == "" {
		u = "omniroi " + c.Name
	}
	return "usage: " + u + "\n\n" + c.Summary
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "omniroi: omnichannel ROI for small businesses, in one binary.")
	fmt.Fprintln(w, "\nusage: omniroi COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'omniroi COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Every flag has an environment variable: --data is OMNIROI_DATA, --db is OMNIROI_DB, --addr is OMNIROI_ADDR, and so on.")
}

func logLevel() slog.Level {
	switch strings.ToLower(os.Getenv("OMNIROI_LOG_LEVEL")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// FlagSet makes a flag set for c whose -h prints the command's usage and flags.
func FlagSet(c *Command, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, usageText(c))
		fmt.Fprintln(env.Stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// Env returns the environment variable for a flag name: "data" → OMNIROI_DATA.
func EnvName(flagName string) string {
	return "OMNIROI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// StringFlag defines a string flag whose default comes from its OMNIROI_* variable.
func StringFlag(fs *flag.FlagSet, name, def, usage string) *string {
	if v, ok := os.LookupEnv(EnvName(name)); ok {
		def = v
	}
	return fs.String(name, def, usage+" (env "+EnvName(name)+")")
}

// StoreFlags are the flags every command that reads or writes data takes.
type StoreFlags struct {
	Data string
	DB   string
	JSON bool
}

// Register adds --data, --db and --json to fs.
func (sf *StoreFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&sf.Data, "data", envOr("OMNIROI_DATA", "omniroi-data"), "data directory for the embedded SQLite database (env OMNIROI_DATA)")
	fs.StringVar(&sf.DB, "db", os.Getenv("OMNIROI_DB"), "PostgreSQL DSN, e.g. postgres://user:pass@host/db; overrides --data (env OMNIROI_DB)")
	fs.BoolVar(&sf.JSON, "json", envOr("OMNIROI_JSON", "") == "true", "print JSON for scripts (env OMNIROI_JSON=true)")
}

// Open opens the store the flags name.
func (sf *StoreFlags) Open(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, store.Config{DataDir: sf.Data, DSN: sf.DB})
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func init() {
	Register(&Command{
		Name:    "version",
		Summary: "print omniroi's version",
		Usage:   "omniroi version [--json]",
		Run: func(ctx context.Context, env *Env, args []string) error {
			c := commands["version"]
			fs := FlagSet(c, env)
			asJSON := fs.Bool("json", false, "print JSON")
			if err := fs.Parse(args); err != nil {
				return err
			}
			v, goV := Version, ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goV = bi.GoVersion
				if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
			}
			if *asJSON {
				return PrintJSON(env.Stdout, map[string]string{"version": v, "go": goV})
			}
			fmt.Fprintf(env.Stdout, "omniroi %s (%s)\n", v, goV)
			return nil
		},
	})
}
