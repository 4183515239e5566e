package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/omniroi/omniroi/internal/auth"
)

func init() {
	c := &Command{
		Name:    "user",
		Summary: "add dashboard users, set their passwords, list them",
		Usage: "omniroi user add EMAIL [--password-stdin]\n       omniroi user passwd EMAIL [--password-stdin]\n       omniroi user list [--json]\n\n" +
			"On a terminal the password is asked twice without echo; otherwise (or with\n--password-stdin) it is the first line of standard input.",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		if len(args) == 0 {
			return ErrUsage
		}
		sub, args := args[0], args[1:]
		fs := FlagSet(c, env)
		var sf StoreFlags
		sf.Register(fs)
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		var pos []string
		for {
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() == 0 {
				break
			}
			pos = append(pos, fs.Arg(0))
			args = fs.Args()[1:]
		}
		switch sub {
		case "add", "passwd":
			if len(pos) != 1 {
				return ErrUsage
			}
			email, err := auth.NormalizeEmail(pos[0])
			if err != nil {
				return err
			}
			pw, err := readPassword(env, *fromStdin)
			if err != nil {
				return err
			}
			db, err := sf.Open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if sub == "passwd" {
				if err := auth.SetPassword(ctx, db, email, pw); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "password of %s changed; their sessions were ended.\n", email)
				return nil
			}
			u, err := auth.CreateUser(ctx, db, email, pw)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, u)
			}
			fmt.Fprintf(env.Stdout, "user %s created; they can log in to the dashboard now.\n", u.Email)
			return nil
		case "list":
			if len(pos) != 0 {
				return ErrUsage
			}
			db, err := sf.Open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			users, err := auth.Users(ctx, db)
			if err != nil {
				return err
			}
			if sf.JSON {
				if users == nil {
					users = []auth.User{}
				}
				return PrintJSON(env.Stdout, users)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%d\t%s\t%s\n", u.ID, u.Email, u.CreatedAt.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		default:
			return ErrUsage
		}
	}
	Register(c)
}

// readPassword asks twice on a terminal (without echo) and reads one line otherwise.
func readPassword(env *Env, fromStdin bool) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(env.Stderr, "Password again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords do not match")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}
