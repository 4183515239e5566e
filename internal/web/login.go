package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/omniroi/omniroi/internal/auth"
)

type loginData struct {
	Next, Email, Error, Token string
}

// safeNext keeps post-login redirects on this site: a local absolute path, or "/".
// Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
// "/\t/evil.example" or "/\\evil.example" would become "//evil.example", another site:
// control characters and backslashes are refused anywhere, also percent-encoded, as are
// a scheme, a host and user info.
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	return next
}

func localPath(p string) bool {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return false
	}
	for _, s := range []string{p, dec} {
		if strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && !u.IsAbs()
}

// nameHash identifies a typed login name in logs without writing it: people type their
// password into the name field, and a log of failed logins must not collect them.
// Attempts on one name share the hash, so a targeted account still shows.
func nameHash(name string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(name))))
	return hex.EncodeToString(h[:8])
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// Someone is about to log in: build the default period's journeys and the value
	// models while they type, so the first Overview does not wait.
	s.warm()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, err := auth.LookupSession(r.Context(), s.db, c.Value, s.opt.Now()); err == nil {
			http.Redirect(w, r, s.landing(sess.User.Role, safeNext(r.URL.Query().Get("next"))), http.StatusSeeOther)
			return
		}
	}
	s.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the form with a fresh login CSRF token: there is no session yet, so
// the token is a double-submit cookie (an attacker's page can neither read nor set it).
func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, code int, d loginData) {
	d.Token = auth.NewToken()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: d.Token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteStrictMode})
	p := s.newPage(r, "", "Log in")
	p.Data = d
	p.NoRange = true
	w.WriteHeader(code)
	if err := s.execute(w, "login", p); err != nil {
		s.log.Error("render login", "err", err)
	}
}

func clientIP(r *http.Request, trustXFF bool) string {
	if trustXFF {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *server) loginPost(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	d := loginData{Next: safeNext(r.PostFormValue("next")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		d.Error = "The login form expired. Please try again."
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	now := s.opt.Now()
	ip := clientIP(r, s.opt.TrustForwardedFor)
	ipKey := "ip:" + ip
	emailKey := "email:" + strings.ToLower(d.Email)
	// Every attempt is counted before its password is checked (and given back when it
	// succeeds), so that attempts sent in parallel hit the limit as sequential ones do.
	if ok, wait := s.ipLimit.Take(ipKey, now); !ok {
		s.tooManyLogins(w, r, d, wait)
		return
	}
	if ok, wait := s.emLimit.Take(emailKey, now); !ok {
		s.ipLimit.Refund(ipKey, now) // no password was checked
		s.tooManyLogins(w, r, d, wait)
		return
	}
	u, err := auth.Authenticate(r.Context(), s.db, d.Email, r.PostFormValue("password"))
	if errors.Is(err, auth.ErrBadCredentials) {
		s.log.Info("dashboard login failed", "name_hash", nameHash(d.Email), "ip", ip)
		d.Error = "Wrong email or password."
		s.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	if errors.Is(err, auth.ErrBusy) {
		// Not the user's fault: the attempt does not count.
		s.ipLimit.Refund(ipKey, now)
		s.emLimit.Refund(emailKey, now)
		w.Header().Set("Retry-After", "5")
		d.Error = "Too many logins at once. Try again in a few seconds."
		s.renderLogin(w, r, http.StatusServiceUnavailable, d)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.ipLimit.Refund(ipKey, now)
	s.emLimit.Reset(emailKey)
	if _, err := auth.DeleteExpiredSessions(r.Context(), s.db, now); err != nil {
		s.log.Warn("delete expired sessions", "err", err)
	}
	sess, err := auth.CreateSession(r.Context(), s.db, u, now, s.opt.SessionTTL)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.SetCookie(w, s.sessionCookie(r, sess.Token, int(s.opt.SessionTTL.Seconds())))
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: isSecure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, s.landing(u.Role, d.Next), http.StatusSeeOther)
}

// landing is where a login goes: next, unless it is the overview and the role may not
// open it (staff): then the first page of the navigation bar the role may open.
func (s *server) landing(role auth.Role, next string) string {
	if next != "/" || s.canOpen(role, "/") {
		return next
	}
	for _, n := range navPages {
		if s.canOpen(role, n.Path) {
			return n.Path
		}
	}
	return next
}

func (s *server) tooManyLogins(w http.ResponseWriter, r *http.Request, d loginData, wait time.Duration) {
	mins := int(math.Ceil(wait.Minutes()))
	w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
	d.Error = fmt.Sprintf("Too many failed logins. Try again in %d minute%s.", mins, plural(mins))
	s.renderLogin(w, r, http.StatusTooManyRequests, d)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := auth.DeleteSession(r.Context(), s.db, sessionFrom(r).Token); err != nil {
		return err
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
