package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/web"
	"github.com/omniroi/omniroi/internal/workspace"
)

func init() {
	c := &Command{
		Name:    "user",
		Summary: "dashboard users: add, invite, change role, remove, set passwords, list",
		Usage: "omniroi user add EMAIL [--role ROLE] [--password-stdin] [--json]\n" +
			"       omniroi user invite EMAIL --role ROLE [--public-url URL] [--json]\n" +
			"       omniroi user role EMAIL ROLE\n" +
			"       omniroi user remove EMAIL\n" +
			"       omniroi user passwd EMAIL [--password-stdin]\n" +
			"       omniroi user list [--json]\n\n" +
			"ROLE is owner, admin, marketer, analyst, viewer or staff (docs/dashboard.md); add makes an\n" +
			"owner unless --role says otherwise. invite prints a link that works once, for 7 days,\n" +
			"where the invitee sets their password: it starts with --public-url or the\n" +
			"dashboard_url setting. remove ends the user's sessions; the last owner cannot be\n" +
			"removed or demoted. On a terminal the password is asked twice without echo;\n" +
			"otherwise (or with --password-stdin) it is the first line of standard input.",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		ctx = audit.WithActor(ctx, audit.ActorCLI) // user changes are audited
		fs, sf := storeFlagSet(c, env)
		fromStdin := fs.Bool("password-stdin", false, "add, passwd: read the password from the first line of standard input")
		roleName := fs.String("role", "", "add (default owner), invite (required): the user's role")
		public := StringFlag(fs, "public-url", "", "invite: the dashboard's address, e.g. https://omniroi.example.com (default: the dashboard_url setting)")
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "passwd": {1}, "list": {0}, "invite": {1}, "role": {2}, "remove": {1}})
		if err != nil {
			return err
		}
		// Check the arguments and read the password before touching the store.
		var email, pw string
		role := auth.RoleOwner
		if sub != "list" {
			if email, err = auth.NormalizeEmail(pos[0]); err != nil {
				return err
			}
		}
		switch sub {
		case "invite":
			if *roleName == "" {
				return errors.New("invite needs --role (owner, admin, marketer, analyst, viewer or staff)")
			}
			fallthrough
		case "add":
			if *roleName != "" {
				if role, err = auth.ParseRole(*roleName); err != nil {
					return err
				}
			}
		case "role":
			if role, err = auth.ParseRole(pos[1]); err != nil {
				return err
			}
		}
		if *public != "" {
			if u, err := url.Parse(*public); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--public-url %q: want http(s)://host[:port][/path]", *public)
			}
		}
		if sub == "add" || sub == "passwd" {
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
			u, err := auth.CreateUserRole(ctx, db, email, pw, role)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, u)
			}
			fmt.Fprintf(env.Stdout, "user %s (%s) created; they can log in to the dashboard now.\n", u.Email, u.Role)
			return nil
		case "invite":
			base := *public
			if base == "" {
				if base, err = workspace.DashboardURL(ctx, db); err != nil {
					return err
				}
			}
			if base == "" {
				return errors.New("invite needs the dashboard's address for the link: pass --public-url https://... or set it once with omniroi settings set dashboard_url https://...")
			}
			inv, token, err := auth.CreateInvite(ctx, db, auth.CLIActing, email, role, time.Now())
			if err != nil {
				return err
			}
			link := web.InviteLink(base, token)
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": inv.ID, "email": inv.Email, "role": inv.Role, "link": link, "expires_at": inv.ExpiresAt})
			}
			fmt.Fprintf(env.Stdout, "invitation for %s (%s) created. Send them this link (shown once; it works once, until %s):\n%s\n",
				inv.Email, inv.Role, inv.ExpiresAt.Local().Format("2006-01-02 15:04"), link)
			return nil
		case "role":
			u, err := auth.UserByEmail(ctx, db, email)
			if err != nil {
				return err
			}
			if u, err = auth.SetRole(ctx, db, auth.CLIActing, u.ID, role); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s is now %s.\n", u.Email, u.Role)
			return nil
		case "remove":
			u, err := auth.UserByEmail(ctx, db, email)
			if err != nil {
				return err
			}
			if _, err := auth.RemoveUser(ctx, db, auth.CLIActing, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "user %s removed; their sessions were ended.\n", u.Email)
			return nil
		default:
			users, err := auth.Users(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, users, "ID\tEMAIL\tROLE\tCREATED", func(w io.Writer, u auth.User) {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", u.ID, Clean(u.Email), u.Role, u.CreatedAt.Format("2006-01-02 15:04"))
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
