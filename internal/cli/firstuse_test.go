package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryHelpExitsZero: `omniroi COMMAND --help` (and -h) prints the command's usage on
// stdout and exits 0 for every command, those with subcommands included.
func TestEveryHelpExitsZero(t *testing.T) {
	t.Parallel()
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

// TestStatsFormats: stats prints a table, CSV or JSON like the other reports, and refuses
// another format by name.
func TestStatsFormats(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	code, out, errs := runCLI(t, "stats", "--format", "csv", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "measure,count\nevents,0\n") {
		t.Errorf("csv: %d %q %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "stats", "--format", "json", "--data", data)
	if code != 0 || !strings.Contains(out, `"events": 0`) {
		t.Errorf("json: %d %q", code, out)
	}
	if code, _, errs = runCLI(t, "stats", "--format", "xml", "--data", data); code == 0 || !strings.Contains(errs, "want table, csv or json") {
		t.Errorf("xml: %d %s", code, errs)
	}
}

// TestDemoChecksPortFirst: a demo whose --addr is taken says so before loading anything.
func TestDemoChecksPortFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	code, _, errs := runCLI(t, "demo", "--customers", "50", "--journey-days", "0", "--addr", ln.Addr().String(), "--data", data)
	if code == 0 || !strings.Contains(errs, "cannot be served") || strings.Contains(errs, "Building") {
		t.Fatalf("demo on a taken address: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(data, "omniroi.db")); err == nil {
		t.Error("the demo opened a store before checking its address")
	}
}

// TestImportProcesses: without a running server, an import of orders brings the derived
// data up to date and says so; the same file again imports nothing and processes nothing.
func TestImportProcesses(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	file := filepath.Join("..", "importer", "testdata", "orders.csv")
	code, out, errs := runCLI(t, "import", "orders", file, "--data", data)
	if code != 0 || !strings.Contains(out, "processed: customers, orders and reports include the new events") {
		t.Fatalf("import: %d %q %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "stats", "--format", "csv", "--data", data)
	if code != 0 || !strings.Contains(out, "\norders,5\n") || !strings.Contains(out, "\nprocessor lag (events),0\n") {
		t.Errorf("after the import: %q", out)
	}
	code, out, _ = runCLI(t, "import", "orders", file, "--json", "--data", data)
	if code != 0 || strings.Contains(out, `"processed"`) {
		t.Errorf("the same file again: %d %s", code, out)
	}
}
