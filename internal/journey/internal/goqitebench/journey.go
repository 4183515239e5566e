package goqitebench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"maragu.dev/goqite"
	"maragu.dev/goqite/jobs"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Mode says how goqite is driven.
type Mode string

const (
	// PerMessage is goqite as documented: its jobs.Runner receives each message in a
	// transaction of its own, runs the job, and deletes the message in another.
	PerMessage Mode = "permessage"
	// Batched is goqite's best case: its *Tx calls inside our transactions, up to Batch
	// messages per commit, the shape the engine's own queue uses.
	Batched Mode = "batched"
)

// Options size Journey.
type Options struct {
	Runs    int  // customers, each entering once; default 20,000
	Batch   int  // events per entry transaction, and messages per transaction in Batched mode; default 2000
	Workers int  // concurrent deliveries (Batched) or jobs.Runner's job limit (PerMessage); default 16
	Mode    Mode // default Batched
}

// Result is what Journey measured.
type Result struct {
	Runs  int
	Sends int64
	Entry time.Duration // events → runs with a delayed timer message
	// Timers and Dispatch are the two queue phases. PerMessage runs them interleaved in one
	// jobs.Runner, so there Timers is 0 and Dispatch holds both.
	Timers        time.Duration
	Dispatch      time.Duration
	Elapsed       time.Duration
	RunsPerMinute float64
	QueueErrors   int64 // errors goqite's runner logged and retried (PerMessage)
}

// Message is what the sink receives.
type Message struct {
	To, Subject, Text, IdemKey string
	RunID, CustomerID          int64
	Headers                    map[string]string
}

const (
	journeyName = "bench"
	entryEvent  = "Product Added"
	entryKey    = "cart_id"
	sendStep    = 1 // the plan is [wait 1h, email]
	waitFor     = time.Hour
	cursorKey   = "goqitebench.cursor"
)

var (
	subjectTmpl = template.Must(template.New("subject").Option("missingkey=zero").Parse("{{.Profile.FirstName}}, your cart"))
	textTmpl    = template.Must(template.New("text").Option("missingkey=zero").Parse("You left {{.Event.name}} in cart {{.Event.cart_id}}."))
)

type bench struct {
	db       *store.DB
	opt      Options
	secret   []byte
	sourceID int64
	cursor   int64
	sent     atomic.Int64
	// enqueue puts a message on a queue inside tx: goqite's SendTx (Batched) or
	// jobs.CreateTx (PerMessage).
	enqueue func(ctx context.Context, tx *sql.Tx, kind string, body []byte, delay time.Duration) error
}

// Journey measures journey runs per minute with goqite as the timer and send queue, on
// db, which must be empty (fresh migrations). Seeding is not timed; an hour passing is
// simulated by one untimed UPDATE of the timer messages' timeouts.
func Journey(ctx context.Context, db *store.DB, opt Options) (Result, error) {
	if opt.Runs <= 0 {
		opt.Runs = 20000
	}
	if opt.Batch <= 0 {
		opt.Batch = 2000
	}
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.Mode == "" {
		opt.Mode = Batched
	}
	res := Result{Runs: opt.Runs}
	if opt.Mode != Batched && opt.Mode != PerMessage {
		return res, fmt.Errorf("goqitebench: unknown mode %q", opt.Mode)
	}
	if err := CreateSchema(ctx, db); err != nil {
		return res, err
	}
	if err := seed(ctx, db, opt.Runs); err != nil {
		return res, err
	}
	b := &bench{db: db, opt: opt, secret: make([]byte, 32)}
	_, _ = rand.Read(b.secret)
	src, err := db.EnsureSource(ctx, "journeys")
	if err != nil {
		return res, err
	}
	b.sourceID = src.ID

	timers := goqite.New(goqite.NewOpts{DB: db.W, Name: "timers", SQLFlavor: flavor(db), Timeout: time.Minute})
	sends := goqite.New(goqite.NewOpts{DB: db.W, Name: "sends", SQLFlavor: flavor(db), Timeout: time.Minute})
	jobq := goqite.New(goqite.NewOpts{DB: db.W, Name: "jobs", SQLFlavor: flavor(db), Timeout: time.Minute})
	timerQueue := "timers"
	if opt.Mode == Batched {
		b.enqueue = func(ctx context.Context, tx *sql.Tx, kind string, body []byte, delay time.Duration) error {
			q := timers
			if kind == "send" {
				q = sends
			}
			return q.SendTx(ctx, tx, goqite.Message{Body: body, Delay: delay})
		}
	} else {
		timerQueue = "jobs"
		b.enqueue = func(ctx context.Context, tx *sql.Tx, kind string, body []byte, delay time.Duration) error {
			_, err := jobs.CreateTx(ctx, tx, jobq, kind, goqite.Message{Body: body, Delay: delay})
			return err
		}
	}

	phase := func(f func(context.Context) (int, error)) (time.Duration, error) {
		t := time.Now()
		for {
			n, err := f(ctx)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				return time.Since(t), nil
			}
		}
	}
	if res.Entry, err = phase(b.entry); err != nil {
		return res, err
	}
	if err := makeDue(ctx, db, timerQueue); err != nil {
		return res, err
	}
	if opt.Mode == Batched {
		if res.Timers, err = phase(func(ctx context.Context) (int, error) { return b.fireBatch(ctx, timers) }); err != nil {
			return res, err
		}
		if res.Dispatch, err = phase(func(ctx context.Context) (int, error) { return b.dispatchBatch(ctx, sends) }); err != nil {
			return res, err
		}
	} else {
		if res.Dispatch, res.QueueErrors, err = b.runJobs(ctx, jobq); err != nil {
			return res, err
		}
	}
	res.Sends = b.sent.Load()
	res.Elapsed = res.Entry + res.Timers + res.Dispatch
	res.RunsPerMinute = float64(opt.Runs) / res.Elapsed.Minutes()
	return res, verify(ctx, db, b.sourceID, opt.Runs, b.sent.Load())
}

// verify checks that every run went through: a benchmark that silently skipped work
// would measure nothing.
func verify(ctx context.Context, db *store.DB, sourceID int64, runs int, sent int64) error {
	var queued, done, events int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM goqite`).Scan(&queued); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_runs WHERE status = 'done'`).Scan(&done); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE source_id = ? AND name = 'Email Sent'`, sourceID).Scan(&events); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if sent != int64(runs) || done != runs || events != runs || queued != 0 {
		return fmt.Errorf("goqitebench: %d runs: %d sends, %d runs done, %d Email Sent events, %d messages left in goqite", runs, sent, done, events, queued)
	}
	return nil
}

// stmts prepares each query once per transaction, as the engine does (re-parsing was a
// third of its CPU). goqite's own statements are not prepared: that is its cost.
type stmts struct {
	tx *store.Tx
	m  map[string]*sql.Stmt
}

func newStmts(tx *store.Tx) *stmts { return &stmts{tx: tx, m: map[string]*sql.Stmt{}} }

func (s *stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.m[q]; ok {
		return st, nil
	}
	st, err := s.tx.Tx.PrepareContext(ctx, store.Rebind(s.tx.Dialect, q))
	if err != nil {
		return nil, err
	}
	s.m[q] = st
	return st, nil
}

func (s *stmts) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *stmts) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *stmts) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.get(ctx, q)
	if err != nil {
		return s.tx.QueryRow(ctx, q, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// querier is a transaction's prepared statements or the read pool.
type querier interface {
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// entry consumes up to Batch events and starts a run with a 1 h timer for each entry
// event, with the engine's queries: identity, merges, open runs, re-entry, insert.
func (b *bench) entry(ctx context.Context) (int, error) {
	evs, err := b.db.ReadEvents(ctx, b.cursor, b.opt.Batch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	now := time.Now()
	last := evs[len(evs)-1].Seq
	err = b.db.Write(ctx, func(tx *store.Tx) error {
		q := newStmts(tx)
		for i := range evs {
			if err := b.onEvent(ctx, tx, q, &evs[i], now); err != nil {
				return fmt.Errorf("event %d: %w", evs[i].Seq, err)
			}
		}
		return store.SetSetting(ctx, tx, cursorKey, strconv.FormatInt(last, 10))
	})
	if err != nil {
		return 0, fmt.Errorf("entry: %w", err)
	}
	b.cursor = last
	return len(evs), nil
}

func (b *bench) onEvent(ctx context.Context, tx *store.Tx, q *stmts, ev *event.Event, now time.Time) error {
	if ev.Type != event.Track || ev.Name != entryEvent {
		return nil
	}
	var cid int64
	err := q.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = ? AND value = ?`, "user_id", identity.NormalizeID(ev.UserID)).Scan(&cid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	rows, err := q.Query(ctx, `SELECT merged_id FROM customer_merges WHERE survivor_id = ?`, cid)
	if err != nil {
		return err
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT id, journey, version, entry_key, step, holdout, entry_props, started_at FROM journey_runs WHERE customer_id = ? AND status = 'active'`, cid)
	if err != nil {
		return err
	}
	open := 0
	for rows.Next() {
		open++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var body struct {
		Properties map[string]any `json:"properties"`
	}
	d := json.NewDecoder(bytes.NewReader(ev.Body))
	d.UseNumber()
	_ = d.Decode(&body)
	key, _ := body.Properties[entryKey].(string)
	if key == "" || now.Sub(ev.Timestamp) > 24*time.Hour {
		return nil
	}
	var last, active, lastStart int64
	err = q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), COALESCE(MAX(started_at), 0)
		FROM journey_runs WHERE journey = ? AND customer_id = ? AND entry_key = ?`, journeyName, cid, key).Scan(&last, &active, &lastStart)
	if err != nil {
		return err
	}
	if active > 0 {
		return nil
	}
	pj, _ := json.Marshal(body.Properties)
	ms := now.UnixMilli()
	var runID int64
	err = q.QueryRow(ctx, `INSERT INTO journey_runs (journey, version, customer_id, entry_key, status, step, holdout, entry_seq, entry_props, started_at, updated_at)
		VALUES (?, 1, ?, ?, 'active', 0, 0, ?, ?, ?, ?) RETURNING id`, journeyName, cid, key, ev.Seq, string(pj), ms, ms).Scan(&runID)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	if _, err := q.Exec(ctx, `UPDATE journey_runs SET step = ?, updated_at = ? WHERE id = ?`, 0, ms, runID); err != nil {
		return err
	}
	return b.enqueue(ctx, tx.Tx, "timer", []byte(strconv.FormatInt(runID, 10)), waitFor)
}

// fire moves the run whose wait ended to its email step: the send is queued and the run,
// whose last step that is, done.
func (b *bench) fire(ctx context.Context, tx *store.Tx, q *stmts, body []byte) error {
	runID, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		return fmt.Errorf("timer message %q: %w", body, err)
	}
	var journey, key, props, status string
	var version, step, holdout int
	var cid, started int64
	err = q.QueryRow(ctx, `SELECT journey, version, customer_id, entry_key, step, holdout, entry_props, started_at, status FROM journey_runs WHERE id = ?`, runID).
		Scan(&journey, &version, &cid, &key, &step, &holdout, &props, &started, &status)
	if errors.Is(err, sql.ErrNoRows) || status != "active" || step != 0 {
		return nil // stale timer
	}
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	if _, err := q.Exec(ctx, `UPDATE journey_runs SET status = 'done', step = ?, ended_at = ?, updated_at = ? WHERE id = ?`, sendStep+1, now, now, runID); err != nil {
		return err
	}
	return b.enqueue(ctx, tx.Tx, "send", []byte(strconv.FormatInt(runID, 10)+","+strconv.FormatInt(cid, 10)), 0)
}

// fireBatch receives up to Batch due timers in one transaction, firing and deleting each.
func (b *bench) fireBatch(ctx context.Context, timers *goqite.Queue) (int, error) {
	n := 0
	err := b.db.Write(ctx, func(tx *store.Tx) error {
		q := newStmts(tx)
		for n < b.opt.Batch {
			m, err := timers.ReceiveTx(ctx, tx.Tx)
			if err != nil {
				return err
			}
			if m == nil {
				return nil
			}
			if err := b.fire(ctx, tx, q, m.Body); err != nil {
				return err
			}
			if err := timers.DeleteTx(ctx, tx.Tx, m.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("timers: %w", err)
	}
	return n, nil
}

type delivery struct {
	id  goqite.ID
	msg *Message // nil: suppressed, nothing to deliver
	err error
}

// decide applies the engine's guardrails (address, suppression list, consent) and
// renders the email with a signed unsubscribe link, reading as the engine does.
func (b *bench) decide(ctx context.Context, q querier, body []byte) (*Message, error) {
	rs, cs, ok := strings.Cut(string(body), ",")
	runID, err1 := strconv.ParseInt(rs, 10, 64)
	cid, err2 := strconv.ParseInt(cs, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("send message %q: bad body", body)
	}
	var version, holdout int
	var props, key string
	if err := q.QueryRow(ctx, `SELECT version, holdout, entry_props, entry_key FROM journey_runs WHERE id = ?`, runID).Scan(&version, &holdout, &props, &key); err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	var name, email, phone, traits, userID string
	if err := q.QueryRow(ctx, `SELECT name, email, phone, traits, user_id FROM customers WHERE id = ?`, cid).Scan(&name, &email, &phone, &traits, &userID); err != nil {
		return nil, fmt.Errorf("customer %d: %w", cid, err)
	}
	var raw map[string]struct {
		V json.RawMessage `json:"v"`
	}
	tr := map[string]any{}
	if json.Unmarshal([]byte(traits), &raw) == nil {
		for k, v := range raw {
			var x any
			if json.Unmarshal(v.V, &x) == nil {
				tr[k] = x
			}
		}
	}
	var segment string
	if err := q.QueryRow(ctx, `SELECT segment FROM segment_changes WHERE customer_id = ? ORDER BY id DESC LIMIT 1`, cid).Scan(&segment); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if holdout == 1 || email == "" {
		return nil, nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM journey_suppressions WHERE channel = ? AND address = ?`, "email", strings.ToLower(email)).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, nil
	}
	var granted int
	err := q.QueryRow(ctx, `SELECT granted FROM journey_consent WHERE customer_id = ? AND channel = ? AND purpose = ?`, cid, "email", "marketing").Scan(&granted)
	switch {
	case err == nil && granted != 1:
		return nil, nil
	case errors.Is(err, sql.ErrNoRows):
		if v, _ := tr["consent.email.marketing"].(bool); !v {
			return nil, nil
		}
	case err != nil:
		return nil, err
	}
	var entry map[string]any
	_ = json.Unmarshal([]byte(props), &entry)
	first, _ := tr["firstName"].(string)
	data := map[string]any{"Profile": map[string]any{"FirstName": first, "Name": name, "Email": email, "Segment": segment}, "Event": entry, "Journey": journeyName}
	var subj, text strings.Builder
	if err := subjectTmpl.Execute(&subj, data); err != nil {
		return nil, err
	}
	if err := textTmpl.Execute(&text, data); err != nil {
		return nil, err
	}
	idem := fmt.Sprintf("jr%d-s%d-email", runID, sendStep)
	u := "/j/u/" + b.sign(map[string]any{"k": "u", "r": runID, "c": cid, "ch": "email", "p": "marketing"})
	return &Message{To: email, Subject: subj.String(), Text: text.String() + "\n--\nUnsubscribe: " + u + "\n", IdemKey: idem, RunID: runID, CustomerID: cid,
		Headers: map[string]string{"List-Unsubscribe": "<" + u + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}, nil
}

func (b *bench) sign(t map[string]any) string {
	body, _ := json.Marshal(t)
	m := hmac.New(sha256.New, b.secret)
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// sink is the in-process receiver, checking what it gets like journey.Bench's.
func (b *bench) sink(_ context.Context, m *Message) error {
	if m.To == "" || m.Subject == "" {
		return errors.New("empty message")
	}
	b.sent.Add(1)
	return nil
}

// sentEvent is the "Email Sent" track event; its messageId comes from the idempotency
// key, so a redelivered send is stored once.
func (b *bench) sentEvent(m *Message, at time.Time) (event.Event, error) {
	body, _ := json.Marshal(map[string]any{"type": "track", "event": "Email Sent", "userId": "bench-" + strconv.FormatInt(m.CustomerID, 10),
		"messageId": "journey-sent-" + m.IdemKey, "timestamp": event.FormatTime(at),
		"context":    map[string]any{"traits": map[string]any{"email": m.To}},
		"properties": map[string]any{"journey": journeyName, "run_id": m.RunID, "channel": "email", "idempotency_key": m.IdemKey, "email_subject": m.Subject}})
	ev, err := event.Normalize(body, "", at, at)
	if err != nil {
		return ev, fmt.Errorf("sent event: %w", err)
	}
	ev.SourceID = b.sourceID
	return ev, nil
}

func (b *bench) insertEvents(ctx context.Context, tx *store.Tx, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := store.LockEventLog(ctx, tx); err != nil {
		return err
	}
	_, err := store.InsertEvents(ctx, tx, evs)
	return err
}

// dispatchBatch claims up to Batch sends (goqite's receive timeout is the lease), decides
// them in that transaction, delivers after commit, then deletes the delivered messages
// and writes their events in a second transaction: the engine's two-transaction outbox.
func (b *bench) dispatchBatch(ctx context.Context, sends *goqite.Queue) (int, error) {
	var ds []*delivery
	err := b.db.Write(ctx, func(tx *store.Tx) error {
		q := newStmts(tx)
		for len(ds) < b.opt.Batch {
			m, err := sends.ReceiveTx(ctx, tx.Tx)
			if err != nil {
				return err
			}
			if m == nil {
				return nil
			}
			msg, err := b.decide(ctx, q, m.Body)
			if err != nil {
				return err
			}
			ds = append(ds, &delivery{id: m.ID, msg: msg})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch: claim: %w", err)
	}
	if len(ds) == 0 {
		return 0, nil
	}
	ch := make(chan *delivery)
	var wg sync.WaitGroup
	for range min(b.opt.Workers, len(ds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ch {
				d.err = b.sink(ctx, d.msg)
			}
		}()
	}
	for _, d := range ds {
		if d.msg != nil {
			ch <- d
		}
	}
	close(ch)
	wg.Wait()
	now := time.Now()
	err = b.db.Write(ctx, func(tx *store.Tx) error {
		var evs []event.Event
		for _, d := range ds {
			if d.err != nil {
				continue // goqite redelivers it after the timeout
			}
			if err := sends.DeleteTx(ctx, tx.Tx, d.id); err != nil {
				return err
			}
			if d.msg == nil {
				continue
			}
			ev, err := b.sentEvent(d.msg, now)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return b.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch: record: %w", err)
	}
	for _, d := range ds {
		if d.err != nil {
			return 0, fmt.Errorf("dispatch: %w", d.err)
		}
	}
	return len(ds), nil
}

// errorCount is jobs.Runner's logger: it counts the errors the runner swallows.
type errorCount struct{ n atomic.Int64 }

func (l *errorCount) Info(msg string, _ ...any) {
	if strings.HasPrefix(msg, "Error") {
		l.n.Add(1)
	}
}

// runJobs runs goqite's jobs.Runner until every run's email went out and every message
// was deleted. Jobs read through the read pool and write in a transaction of their own,
// as a job written for the runner would.
func (b *bench) runJobs(ctx context.Context, q *goqite.Queue) (time.Duration, int64, error) {
	log := &errorCount{}
	// PollInterval 1 ms: the runner sleeps that long whenever all job slots are busy;
	// its 100 ms default would throttle it, not the database.
	r := jobs.NewRunner(jobs.NewRunnerOpts{Limit: b.opt.Workers, PollInterval: time.Millisecond, Queue: q, Log: log})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var jobErr error
	var handled atomic.Int64
	fail := func(err error) error {
		mu.Lock()
		if jobErr == nil {
			jobErr = err
		}
		mu.Unlock()
		cancel()
		return err
	}
	r.Register("timer", func(ctx context.Context, body []byte) error {
		err := b.db.Write(ctx, func(tx *store.Tx) error { return b.fire(ctx, tx, newStmts(tx), body) })
		if err != nil {
			return fail(fmt.Errorf("timer job: %w", err))
		}
		return nil
	})
	r.Register("send", func(ctx context.Context, body []byte) error {
		msg, err := b.decide(ctx, b.db, body)
		if err != nil {
			return fail(fmt.Errorf("send job: %w", err))
		}
		if msg != nil {
			if err := b.sink(ctx, msg); err != nil {
				return fail(fmt.Errorf("send job: %w", err))
			}
			ev, err := b.sentEvent(msg, time.Now())
			if err != nil {
				return fail(err)
			}
			if err := b.db.Write(ctx, func(tx *store.Tx) error { return b.insertEvents(ctx, tx, []event.Event{ev}) }); err != nil {
				return fail(fmt.Errorf("send job: %w", err))
			}
		}
		if handled.Add(1) == int64(b.opt.Runs) {
			cancel() // Start returns once the in-flight jobs and their deletes are done
		}
		return nil
	})
	t := time.Now()
	r.Start(rctx)
	d := time.Since(t)
	mu.Lock()
	defer mu.Unlock()
	if jobErr != nil {
		return d, log.n.Load(), jobErr
	}
	return d, log.n.Load(), ctx.Err()
}
