package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/browsertest"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// TestBrowserJourneysAndTokens drives, in real headless Chromium as an admin, what a
// marketer used to need the CLI for: apply a built-in journey through its settings form
// (a refused holdout is shown beside its field with what was typed), pause it, preview
// its email as one customer would see it (in a sandboxed frame), then create an API
// token (its secret shown once) and revoke it. No console errors or exceptions.
func TestBrowserJourneysAndTokens(t *testing.T) {
	testenv.Slow(t, "a browser")
	browsertest.Need(t)
	db := storetest.SQLite(t)
	seed(t, db)
	ctx := context.Background()
	const admin, pw = "ada@example.com", "a long admin password"
	if _, err := auth.CreateUserRole(ctx, db, admin, pw, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, db, Options{noWarm: true})
	dir := artifactsDir(t)

	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	br := browsertest.Start(t, cctx, dir, 1280, 900)
	bctx, shot := br.Ctx, br.Shot
	eval := func(js string) string {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	text := func(sel string) string {
		return eval(`(document.querySelector(` + "`" + sel + "`" + `) || {}).innerText || ''`)
	}
	// submit clicks a form's button by script: the click navigates away, and chromedp's
	// Click may still be reading the node after the page has gone.
	submit := func(sel, then string) {
		t.Helper()
		err := chromedp.Do(bctx,
			chromedp.Evaluate[chromedp.Void](`document.querySelector(`+"`"+sel+"`"+`).click(), 1`),
			chromedp.WaitVisible(chromedp.CSS(then)),
		)
		if err != nil {
			t.Fatalf("submit %s, wait for %s: %v", sel, then, err)
		}
	}

	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), admin),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label=Main]`)),
		// Straight to the page: the Overview after login may reload itself while the budget
		// model is being fitted, which takes a clicked link's node away.
		chromedp.Navigate(ts.URL+"/automations"),
		chromedp.WaitVisible(chromedp.CSS(`#journey-templates`)),
		chromedp.Click(chromedp.CSS(`#journey-templates a[href$="template=abandoned-cart"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#apply-form`)),
	)
	if err != nil {
		t.Fatalf("apply form: %v", err)
	}
	shot("journey-apply-form")
	// A refused holdout: shown beside its field, with what was typed.
	err = chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`[id="set-name"]`), "cart-web"),
		chromedp.SetValue(chromedp.CSS(`[id="set-holdout"]`), "150%"),
	)
	if err != nil {
		t.Fatal(err)
	}
	submit(`#apply-form button[type=submit]`, `[id="err-holdout"]`)
	if e, v := text(`[id="err-holdout"]`), eval(`document.querySelector('[id="set-holdout"]').value`); !strings.Contains(e, "below 100%") || v != "150%" {
		t.Errorf("refused holdout: error %q, value %q", e, v)
	}
	if eval(`document.querySelector('[id="set-name"]').value`) != "cart-web" {
		t.Error("the typed name was lost")
	}
	shot("journey-apply-refused")
	if _, err := chromedp.Run(bctx, chromedp.SetValue(chromedp.CSS(`[id="set-holdout"]`), "20%")); err != nil {
		t.Fatal(err)
	}
	submit(`#apply-form button[type=submit]`, `#applied-notice`)
	if n := text(`#applied-notice`); !strings.Contains(n, "Version 1 of cart-web is applied") {
		t.Errorf("notice %q", n)
	}
	if steps := text(`#steps-table`); strings.Contains(steps, "{{") || !strings.Contains(steps, "Wait 1 day, then go on.") {
		t.Errorf("steps: %q", steps)
	}
	d, err := journey.Show(ctx, db, "cart-web")
	if err != nil || d.Plan.Holdout != 0.2 || !d.Enabled {
		t.Fatalf("applied journey: %+v %v", d, err)
	}

	// Pause it.
	submit(`#journey-toggle`, `form[action$="/cart-web/enable"]`)
	if st := text(`#journey-state`); !strings.Contains(st, "Paused") {
		t.Errorf("state %q", st)
	}
	if d, _ := journey.Show(ctx, db, "cart-web"); d.Enabled {
		t.Error("still enabled after Pause")
	}
	shot("journey-paused")

	// Preview the email as Anna would see it.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#steps-table a[href$="/preview?step=2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#preview-customer`)),
		chromedp.SendKeys(chromedp.CSS(`#preview-customer`), "anna@example.com"),
	)
	if err != nil {
		t.Fatalf("preview form: %v", err)
	}
	submit(`#preview-form button[type=submit]`, `#preview-html`)
	if h := text(`#preview-h`); h != "Anna, you left something in your cart" {
		t.Errorf("subject %q", h)
	}
	if sb := eval(`document.querySelector('#preview-html').getAttribute('sandbox')`); sb != "" {
		t.Errorf("the frame's sandbox is %q, want every restriction", sb)
	}
	// The frame shows the rendered email. A sandboxed frame is of another origin, so the
	// page's script cannot read it (the point); its document is opened on its own instead.
	if body := eval(`(function(){ try { return document.querySelector('#preview-html').contentDocument ? 'readable' : '' } catch (e) { return '' } })()`); body != "" {
		t.Errorf("the sandboxed frame is readable from the page")
	}
	src, back := eval(`document.querySelector('#preview-html').src`), eval(`location.href`)
	// The frame has loaded when the page's resource timing lists its document.
	loaded := false
	for deadline := time.Now().Add(10 * time.Second); !loaded && time.Now().Before(deadline); {
		loaded = eval(`performance.getEntriesByType('resource').some(e => e.initiatorType === 'iframe' && e.name.includes('part=html')) ? 'yes' : ''`) == "yes"
		if !loaded {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !loaded {
		t.Error("the preview frame did not load")
	}
	shot("journey-preview")
	// A full-page screenshot leaves out-of-process frames (Chromium isolates sandboxed
	// frames) blank; the viewport screenshot shows the rendered email.
	if err := chromedp.Do(bctx, chromedp.ScrollIntoView(chromedp.CSS(`#preview-html`))); err != nil {
		t.Fatal(err)
	}
	if png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "journey-preview-frame.png"), png, 0o644)
	}
	err = chromedp.Do(bctx, chromedp.Navigate(src), chromedp.WaitVisible(chromedp.CSS(`body p`)))
	if err != nil {
		t.Fatalf("the frame's document: %v", err)
	}
	if body := eval(`document.body.innerText`); !strings.Contains(body, "Hi Anna,") || !strings.Contains(body, "You left something in your cart at our shop.") {
		t.Errorf("the frame shows %q", body)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(back), chromedp.WaitVisible(chromedp.CSS(`#preview-text`))); err != nil {
		t.Fatal(err)
	}
	if tx := text(`#preview-text`); !strings.Contains(tx, "Hi Anna,") || strings.Contains(tx, "{{") {
		t.Errorf("text %q", tx)
	}

	// An API token: created, its secret shown once, then revoked.
	err = chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`nav a[href^="/tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-form`)),
		chromedp.SendKeys(chromedp.CSS(`#token-name`), "reporting"),
		chromedp.SetValue(chromedp.CSS(`#token-role`), "viewer"),
	)
	if err != nil {
		t.Fatalf("tokens page: %v", err)
	}
	submit(`#token-form button[type=submit]`, `#token-secret`)
	secret := eval(`document.querySelector('#token-secret').value`)
	if tk, err := api.CheckToken(ctx, db, secret); err != nil || tk.Name != "reporting" || tk.Role != auth.RoleViewer {
		t.Fatalf("the shown secret %q: %+v %v", secret, tk, err)
	}
	shot("token-created")
	err = chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('tr[data-token="reporting"] input[name=confirm]').checked = true, 1`),
	)
	if err != nil {
		t.Fatal(err)
	}
	submit(`tr[data-token="reporting"] button[type=submit]`, `#tokens-notice`)
	if _, err := api.CheckToken(ctx, db, secret); err == nil {
		t.Error("the token still works after Revoke")
	}
	if strings.Contains(eval(`document.body.innerText`), secret) {
		t.Error("the secret is shown again")
	}
	shot("token-revoked")

	entries, _ := audit.List(ctx, db, audit.Filter{})
	var acts []string
	for _, a := range entries {
		if a.Actor == audit.UserActor(admin) {
			acts = append(acts, a.Action)
		}
	}
	for _, want := range []string{"journey.apply", "journey.disable", "token.add", "token.revoke"} {
		if !strings.Contains(strings.Join(acts, " "), want) {
			t.Errorf("audit by the admin lacks %s: %v", want, acts)
		}
	}
	for _, p := range br.Problems() {
		if strings.Contains(p, "status of 422") && strings.Contains(p, "/automations/templates") { // the refused holdout, on purpose
			continue
		}
		t.Errorf("browser: %s", p)
	}
}
