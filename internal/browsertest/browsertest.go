// Package browsertest starts real headless Chromium for the tests that drive the
// dashboard and the embeddable scripts, with the console watched for errors.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/omniroi/omniroi/internal/testenv"
)

// Path is Chromium's executable: $OMNIROI_CHROMIUM when set, else the first found of the
// usual names; "" when there is none.
func Path() string {
	if p := os.Getenv("OMNIROI_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Need skips the test when Chromium is absent (fails it under CI=true): call it before
// expensive set-up.
func Need(t testing.TB) {
	t.Helper()
	testenv.Need(t, "the browser test needs Chromium (apt-get install chromium, or set OMNIROI_CHROMIUM)", Path() != "")
}

// Flags are the allocator options every test starts Chromium with: headless, no sandbox
// (containers), a throw-away profile and no background traffic.
func Flags(t testing.TB, bin string, width, height int) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(width, height),
	}
}

// Browser is one Chromium tab. Ctx is the tab's context for chromedp.Run and Do.
type Browser struct {
	Ctx context.Context
	Dir string // where Shot writes

	t        testing.TB
	mu       sync.Mutex
	problems []Message
}

// Message is a console error, warning or uncaught exception.
type Message struct {
	Type chromedp.ConsoleType // error, warning or exception
	Text string
	URL  string // the script or page it came from
	Line int    // 1-based
}

func (m Message) String() string { return fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line) }

// Start launches Chromium with a window of width × height and opens a tab, for as long
// as ctx lives (the test's cleanup closes both). Without Chromium the test skips, or
// fails under CI=true. Console errors, warnings and uncaught exceptions are collected
// from the start (Problems). Screenshots go to dir.
func Start(t testing.TB, ctx context.Context, dir string, width, height int) *Browser {
	t.Helper()
	Need(t)
	actx, cancelA := chromedp.NewExecAllocator(ctx, Flags(t, Path(), width, height)...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &Browser{Ctx: bctx, Dir: dir, t: t}
	go func() {
		for m, err := range chromedp.Console(bctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.problems = append(b.problems, Message{m.Type, m.Text, m.URL, int(m.Line) + 1})
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// Problems are the console errors, warnings and exceptions seen so far, as text.
func (b *Browser) Problems() []string {
	var out []string
	for _, m := range b.Messages() {
		out = append(out, m.String())
	}
	return out
}

// Messages are the console errors, warnings and exceptions seen so far.
func (b *Browser) Messages() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.problems...)
}

// Shot saves a full-page screenshot as Dir/name.png; a failed screenshot is not an error
// of the page under test, so it is only logged.
func (b *Browser) Shot(name string) {
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.Dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// Text is the visible text of the first element matching the CSS selector sel, "" when
// none does.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {}).innerText || ''`))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}
