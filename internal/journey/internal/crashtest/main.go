// Command crashtest runs the journey engine against a data directory or a PostgreSQL DSN and sends every
// channel to one signed webhook. The durability test starts it, kills it with SIGKILL
// mid-run, starts it again and checks that the sink saw every send exactly once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
)

func main() {
	data := flag.String("data", "", "data directory (SQLite)")
	dsn := flag.String("dsn", "", "PostgreSQL DSN instead of -data")
	sink := flag.String("sink", "", "webhook URL every send goes to")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := store.Open(ctx, store.Config{DataDir: *data, DSN: *dsn})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer db.Close()
	// The sink is a loopback server: allowed explicitly, as for a relay on the same host.
	relay, err := journey.NewNetPolicy("", "loopback")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wh := &journey.WebhookSender{URL: *sink, Secret: []byte("crash"), Policy: journey.StaticNetPolicy(relay)}
	eng, err := journey.NewEngine(ctx, db, journey.Options{
		Senders:      map[string]journey.Sender{"email": wh, "sms": wh, "push": wh, "webhook": wh},
		PollInterval: 10 * time.Millisecond,
		Batch:        20,
		Workers:      4,
		LeaseTTL:     time.Second,
		Policy:       &journey.WorkspacePolicy{},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	eng.Run(ctx)
}
