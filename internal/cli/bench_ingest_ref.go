package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"
)

// The reference collector: the simplest correct durable collector we can think of, to
// measure omniroi's sustained ingest against on the same machine (`omniroi bench
// ingest-compare`). It exists for that comparison only: encoding/json, one SQLite
// transaction per group of waiting requests, WAL, synchronous=FULL, a request answered
// after its events are on disk, a retried messageId stored once. No identity, no
// privacy gate, no derived data, no limits: everything omniroi does on top is what the
// comparison prices.

func init() {
	c := &Command{
		Name:    "ingest-ref",
		Summary: "the reference collector (encoding/json, one SQLite transaction per group of requests) that ingest-compare measures omniroi against",
		Usage: `omniroi bench ingest-ref --addr 127.0.0.1:PORT --key KEY --data DIR

Serves POST /v1/batch (basic auth user KEY) into DIR/reference.db until interrupted.
Benchmark-only: it does nothing omniroi does beyond storing the events durably.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(c, env)
		addr := StringFlag(fs, "addr", "127.0.0.1:0", "address to listen on")
		key := StringFlag(fs, "key", "", "write key the clients send as the basic-auth user")
		dir := StringFlag(fs, "data", "", "directory for reference.db")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 || *key == "" || *dir == "" {
			return ErrUsage
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		ref, err := openRefCollector(filepath.Join(*dir, "reference.db"), *key)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "listening %s\n", ln.Addr())
		return ref.serve(ctx, ln)
	}
	RegisterBench(c)
}

type refCollector struct {
	db      *sql.DB
	key     string
	pending chan *refRequest
}

type refEvent struct {
	messageID, typ, name, userID, anonID string
	ts                                   int64
	body                                 []byte
}

type refRequest struct {
	events []refEvent
	done   chan error
}

func openRefCollector(path, key string) (*refCollector, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS events (
		seq INTEGER PRIMARY KEY,
		message_id TEXT NOT NULL UNIQUE,
		type TEXT NOT NULL,
		name TEXT NOT NULL,
		user_id TEXT NOT NULL,
		anonymous_id TEXT NOT NULL,
		ts INTEGER NOT NULL,
		received_at INTEGER NOT NULL,
		body TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("reference collector: %w", err)
	}
	return &refCollector{db: db, key: key, pending: make(chan *refRequest, 1024)}, nil
}

func (rc *refCollector) serve(ctx context.Context, ln net.Listener) error {
	cctx, stop := context.WithCancel(context.Background())
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		rc.commitLoop(cctx)
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/batch", rc.batch)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(sctx))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	stop()
	<-committed
	return errors.Join(err, rc.db.Close())
}

// batch decodes a Segment batch with encoding/json, queues its events for the committer
// and answers once they are committed.
func (rc *refCollector) batch(w http.ResponseWriter, r *http.Request) {
	if user, _, ok := r.BasicAuth(); !ok || user != rc.key {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	var in struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	now := time.Now()
	req := &refRequest{events: make([]refEvent, 0, len(in.Batch)), done: make(chan error, 1)}
	for _, raw := range in.Batch {
		var e struct {
			Type        string    `json:"type"`
			Event       string    `json:"event"`
			UserID      string    `json:"userId"`
			AnonymousID string    `json:"anonymousId"`
			MessageID   string    `json:"messageId"`
			Timestamp   time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Type == "" || e.MessageID == "" || (e.UserID == "" && e.AnonymousID == "") {
			http.Error(w, `{"error":"bad event"}`, http.StatusBadRequest)
			return
		}
		if e.Timestamp.IsZero() {
			e.Timestamp = now
		}
		req.events = append(req.events, refEvent{messageID: e.MessageID, typ: e.Type, name: e.Event, userID: e.UserID,
			anonID: e.AnonymousID, ts: e.Timestamp.UnixMilli(), body: raw})
	}
	rc.pending <- req
	if err := <-req.done; err != nil {
		http.Error(w, `{"error":"store"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"success":true}`))
}

// commitLoop takes the waiting requests, stores them in one transaction and answers them.
func (rc *refCollector) commitLoop(ctx context.Context) {
	for {
		var group []*refRequest
		select {
		case <-ctx.Done():
			return
		case req := <-rc.pending:
			group = append(group, req)
		}
	more:
		for len(group) < 256 {
			select {
			case req := <-rc.pending:
				group = append(group, req)
			default:
				break more
			}
		}
		err := rc.store(group)
		for _, req := range group {
			req.done <- err
		}
	}
}

func (rc *refCollector) store(group []*refRequest) error {
	tx, err := rc.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.Prepare(`INSERT INTO events (message_id, type, name, user_id, anonymous_id, ts, received_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`)
	if err != nil {
		return err
	}
	defer st.Close()
	recv := time.Now().UnixMilli()
	for _, req := range group {
		for _, e := range req.events {
			if _, err := st.Exec(e.messageID, e.typ, e.name, e.userID, e.anonID, e.ts, recv, string(e.body)); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// refStored counts the events a reference database holds.
func refStored(dir string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "reference.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n)
	return n, err
}
