package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// layoutCheckJS measures one page as laid out: what sticks out of the page sideways
// (outside a table's own scrolling wrapper), table cells whose text is cut or broken
// inside a word, and, per table wrapper, whether the table fits without scrolling.
const layoutCheckJS = `(() => {
  const vw = window.innerWidth;
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, overflow: [], broken: [], cut: [], scrolled: []};
  const hidden = el => el.closest('.sr, .collapsed, [hidden]') !== null;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  for (const el of document.querySelectorAll('body *')) {
    if (hidden(el)) continue;
    const wrap = el.closest('.scroll');
    if (wrap && wrap !== el) continue; // inside a table's scrolling wrapper: may scroll there
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > vw + 1 || r.left < -1) out.overflow.push(name(el) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px');
  }
  for (const cell of document.querySelectorAll('td, th')) {
    if (hidden(cell)) continue;
    const cs = getComputedStyle(cell);
    if (cs.wordBreak === 'break-all' || cs.overflowWrap === 'anywhere') out.broken.push(name(cell) + ': word-break ' + cs.wordBreak + ', overflow-wrap ' + cs.overflowWrap);
    if (cell.scrollWidth > cell.clientWidth + 1) out.cut.push(name(cell) + ' "' + cell.textContent.trim().slice(0, 40) + '": ' + cell.scrollWidth + ' > ' + cell.clientWidth);
    // A word laid out on more than one line is broken inside it.
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const re = /\S+/g;
      let m;
      while ((m = re.exec(n.data)) !== null) {
        const rg = document.createRange();
        rg.setStart(n, m.index);
        rg.setEnd(n, m.index + m[0].length);
        const tops = new Set(Array.from(rg.getClientRects()).filter(q => q.width > 0).map(q => Math.round(q.top)));
        if (tops.size < 2) continue;
        // A token may wrap after punctuation ("12-|month", a URL after "/"), but not
        // between letters ("Champi|ons") nor inside a number or date ("2026-|03-09").
        let bad = false, prevTop = null;
        for (let i = 0; i < m[0].length && !bad; i++) {
          const cr = document.createRange();
          cr.setStart(n, m.index + i);
          cr.setEnd(n, m.index + i + 1);
          const r = cr.getClientRects()[0];
          if (!r) continue;
          const top = Math.round(r.top);
          if (prevTop !== null && top !== prevTop) {
            const p = m[0][i - 1], pp = i > 1 ? m[0][i - 2] : '', c = m[0][i];
            if (!/[-\/,;:_.&=?)\]}"]/.test(p) || (/[0-9]/.test(pp) && /[0-9]/.test(c))) bad = true;
          }
          prevTop = top;
        }
        if (bad) out.broken.push(name(cell) + ': "' + m[0] + '" is broken over ' + tops.size + ' lines');
      }
    }
  }
  for (const w of document.querySelectorAll('.scroll')) {
    if (hidden(w)) continue;
    if (w.scrollWidth > w.clientWidth + 1) out.scrolled.push((w.getAttribute('aria-label') || name(w)) + ': ' + w.scrollWidth + ' > ' + w.clientWidth + ' px');
  }
  return out;
})()`

type layoutState struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Overflow    []string `json:"overflow"`
	Broken      []string `json:"broken"`
	Cut         []string `json:"cut"`
	Scrolled    []string `json:"scrolled"`
}

// TestBrowserLayout opens every page of the navigation (and a customer's profile) of a
// small demo business in real Chromium at a phone's 390 × 844 and a desktop's 1440 × 900,
// and checks by script that nothing sticks out of the page sideways (tables may scroll
// only inside their wrapper), that no table cell's text is cut or broken inside a word,
// that at 1440 px every table fits its card, and that on the phone the menu is collapsed
// behind a button that opens it. Screenshots go to the directory the test logs.
func TestBrowserLayout(t *testing.T) {
	testenv.Slow(t, "a browser at two widths over every page")
	bin := chromiumPath()
	testenv.Need(t, "the browser test needs Chromium (apt-get install chromium, or set OMNIROI_CHROMIUM)", bin != "")
	ctx := context.Background()
	db := storetest.SQLite(t)
	if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 1, Customers: 300, End: testNow.Truncate(24 * time.Hour)}, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, db, Options{computeWait: 5 * time.Minute})
	u, err := auth.CreateUserRole(ctx, db, "layout@example.com", testPassword, auth.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := auth.CreateSession(ctx, db, u, testNow, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var cust int64
	if err := db.QueryRow(ctx, `SELECT customer_id FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1`).Scan(&cust); err != nil {
		t.Fatal(err)
	}
	dir := artifactsDir(t)
	t.Logf("screenshots in %s", dir)

	tctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(tctx,
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	host := strings.TrimPrefix(ts.URL, "http://")
	if _, err := chromedp.Call(bctx, network.SetCookie, network.SetCookieParams{Name: sessionCookie, Value: sess.Token, Domain: strings.Split(host, ":")[0], Path: "/"}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	paths := []string{}
	for _, n := range navPages { // an owner opens them all
		paths = append(paths, n.Path)
	}
	paths = append(paths, fmt.Sprintf("/customers/%d", cust))
	sizes := []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)}},
		{"desktop", 1440, 900, nil},
	}
	for _, sz := range sizes {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(sz.w, sz.h, sz.opts...)); err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			u := ts.URL + path
			if !strings.Contains(path, "?") {
				u += "?range=all"
			}
			if err := chromedp.Do(bctx, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(`footer`))); err != nil {
				t.Fatalf("%s %s: %v", sz.name, path, err)
			}
			if _, err := waitCharts(bctx); err != nil {
				t.Fatal(err)
			}
			name := sz.name + strings.ReplaceAll(path, "/", "-")
			if path == "/" {
				name = sz.name + "-overview"
			}
			if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(80)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, name+".jpg"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := chromedp.Run(bctx, chromedp.Evaluate[layoutState](layoutCheckJS))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if st.ScrollWidth > st.InnerWidth {
				t.Errorf("%s: the page is %d px wide in a %d px window", name, st.ScrollWidth, st.InnerWidth)
			}
			for _, o := range st.Overflow {
				t.Errorf("%s: sticks out of the page: %s", name, o)
			}
			for _, b := range st.Broken {
				t.Errorf("%s: %s", name, b)
			}
			for _, c := range st.Cut {
				t.Errorf("%s: cell text cut: %s", name, c)
			}
			if sz.name == "desktop" {
				for _, s := range st.Scrolled {
					t.Errorf("%s: table does not fit at 1440 px: %s", name, s)
				}
			}
			if sz.name == "phone" {
				checkPhoneMenu(t, bctx, name)
			}
			if sz.name == "phone" && path == "/customers" {
				// The list is wider than a phone: it scrolls inside its card, and its first
				// column stays in place while the rest moves.
				const sticky = `(() => { const w = document.querySelector('#customers-table .scroll'); if (!w) return 'no list';
  if (w.scrollWidth <= w.clientWidth) return 'the list fits a phone: nothing to scroll';
  w.scrollLeft = 200;
  const first = w.querySelector('tbody td:first-child').getBoundingClientRect(), second = w.querySelector('tbody td:nth-child(2)').getBoundingClientRect();
  const wl = w.getBoundingClientRect().left;
  return Math.abs(first.left - wl) <= 2 && second.left < first.right ? 'ok' : 'first column at ' + first.left + ', wrapper at ' + wl + ', second column at ' + second.left; })()`
				if got, err := chromedp.Run(bctx, chromedp.Evaluate[string](sticky)); err != nil || got != "ok" {
					t.Errorf("%s: scrolled list: %s %v", name, got, err)
				}
			}
		}
	}
}

// checkPhoneMenu checks that the main menu is collapsed behind its button and that the
// button opens it, with every link inside the screen.
func checkPhoneMenu(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	const state = `(() => { const n = document.getElementById('main-nav'), b = document.querySelector('.menu-toggle');
  const links = Array.from(n.querySelectorAll('a'));
  return {shown: n.offsetParent !== null && n.getBoundingClientRect().height > 0, button: b !== null && b.offsetParent !== null,
    expanded: b ? b.getAttribute('aria-expanded') : '', links: links.length,
    inside: links.every(a => { const r = a.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= innerWidth; })}; })()`
	type menu struct {
		Shown    bool   `json:"shown"`
		Button   bool   `json:"button"`
		Expanded string `json:"expanded"`
		Links    int    `json:"links"`
		Inside   bool   `json:"inside"`
	}
	m, err := chromedp.Run(ctx, chromedp.Evaluate[menu](state))
	if err != nil {
		t.Fatalf("%s menu: %v", name, err)
	}
	if m.Shown || !m.Button || m.Expanded != "false" {
		t.Errorf("%s: phone menu before opening: %+v, want the list hidden behind a visible button", name, m)
		return
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.menu-toggle`))); err != nil {
		t.Fatalf("%s: click Menu: %v", name, err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m, err = chromedp.Run(ctx, chromedp.Evaluate[menu](state)); err != nil {
			t.Fatalf("%s menu: %v", name, err)
		}
		if m.Shown || time.Now().After(deadline) {
			break
		}
	}
	if !m.Shown || m.Expanded != "true" || m.Links < 3 || !m.Inside {
		t.Errorf("%s: phone menu after the button: %+v, want the list shown, every link inside the screen", name, m)
	}
}
