package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
		fs, sf := storeFlagSet(c, env)
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "passwd": {1}, "list": {0}})
		if err != nil {
			return err
		}
		// add and passwd check the email and read the password before touching the store.
		var email, pw string
		if sub != "list" {
			if email, err = auth.NormalizeEmail(pos[0]); err != nil {
				return err
			}
			if pw, err = readPassword(env, *fromStdin); err != nil {
				return err
			}
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "passwd":
			if err := auth.SetPassword(ctx, db, email, pw); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "password of %s changed; their sessions were ended.\n", email)
			return nil
		case "add":
			u, err := auth.CreateUser(ctx, db, email, pw)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, u)
			}
			fmt.Fprintf(env.Stdout, "user %s created; they can log in to the dashboard now.\n", u.Email)
			return nil
		default:
			users, err := auth.Users(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, users, "ID\tEMAIL\tCREATED", func(w io.Writer, u auth.User) {
				fmt.Fprintf(w, "%d\t%s\t%s\n", u.ID, Clean(u.Email), u.CreatedAt.Format("2006-01-02 15:04"))
			})
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
