package privacy

// Retention (docs/privacy.md, "Retention"): per kind of data, a workspace setting says how
// long it is kept. Raw events are the source of truth, so old ones are minimised, not
// deleted: they keep ids, times, channels and order fields (a rebuild still derives the
// same touchpoints, orders and revenue) and lose names, emails, phones, IPs, user agents,
// traits and free text. Rejected payloads (diagnostics only) are deleted. Message copies
// in DATA/outbox are deleted, and journey rows lose what held message data: delivery
// error texts (which name addresses) and finished runs' entry properties.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Bookkeeping of the events pass: everything received before eventsDone is minimised,
// and events inserted up to eventsSeq were looked at. Not under "privacy." so the gate's
// view of the settings does not change with each run.
const (
	eventsDoneSetting = "retention.events_done"
	eventsSeqSetting  = "retention.events_seq"
)

// RetentionReport says what one run did.
type RetentionReport struct {
	EventsMinimised int64             `json:"events_minimised"`
	RejectedDeleted int64             `json:"rejected_deleted"`
	FilesDeleted    int               `json:"message_copies_deleted"`
	ReasonsCleared  int64             `json:"send_reasons_cleared"`
	PropsCleared    int64             `json:"run_properties_cleared"`
	Cutoffs         map[string]string `json:"cutoffs"` // kind → oldest kept (RFC 3339), or "kept"
	Seconds         float64           `json:"seconds"`
}

// retentionChunk is how many events one transaction minimises: short transactions keep
// the writer free for the collection API.
const retentionChunk = 1000

// RunRetention applies the retention settings once, as of now. On SQLite its rewrites
// and deletes run with secure_delete, so the old bytes are overwritten, not left in free
// space (it does not VACUUM: that rewrites the whole file; `omniroi privacy compact` does).
func RunRetention(ctx context.Context, db *store.DB, now time.Time) (rep *RetentionReport, err error) {
	restore, err := secureDelete(ctx, db)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return runRetention(ctx, db, now)
}

func runRetention(ctx context.Context, db *store.DB, now time.Time) (*RetentionReport, error) {
	t0 := time.Now()
	rep := &RetentionReport{Cutoffs: map[string]string{}}
	cut := func(k workspace.Key) (int64, error) {
		d, err := workspace.Duration(ctx, db, k.Name)
		if err != nil {
			return 0, err
		}
		if d <= 0 {
			rep.Cutoffs[k.Name] = "kept"
			return 0, nil
		}
		c := now.Add(-d)
		rep.Cutoffs[k.Name] = c.UTC().Format(time.RFC3339)
		return c.UnixMilli(), nil
	}
	evCut, err := cut(workspace.RetentionEventsKey)
	if err != nil {
		return nil, err
	}
	rejCut, err := cut(workspace.RetentionRejectedKey)
	if err != nil {
		return nil, err
	}
	msgCut, err := cut(workspace.RetentionMessagesKey)
	if err != nil {
		return nil, err
	}
	if evCut > 0 {
		if rep.EventsMinimised, err = minimiseOld(ctx, db, evCut); err != nil {
			return rep, err
		}
	}
	if rejCut > 0 {
		for {
			res, err := db.Exec(ctx, `DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events WHERE received_at < ? LIMIT 1000)`, rejCut)
			if err != nil {
				return rep, fmt.Errorf("retention: rejected payloads: %w", err)
			}
			n, _ := res.RowsAffected()
			rep.RejectedDeleted += n
			if n < 1000 {
				break
			}
		}
	}
	if msgCut > 0 {
		if rep.FilesDeleted, err = deleteOldCopies(db.DataDir, time.UnixMilli(msgCut)); err != nil {
			return rep, err
		}
		res, err := db.Exec(ctx, `UPDATE journey_sends SET reason = '' WHERE created_at < ? AND reason <> '' AND status <> 'suppressed'`, msgCut)
		if err != nil {
			return rep, fmt.Errorf("retention: send reasons: %w", err)
		}
		rep.ReasonsCleared, _ = res.RowsAffected()
		res, err = db.Exec(ctx, `UPDATE journey_runs SET entry_props = '{}' WHERE status <> 'active' AND ended_at > 0 AND ended_at < ? AND entry_props <> '{}'`, msgCut)
		if err != nil {
			return rep, fmt.Errorf("retention: run properties: %w", err)
		}
		rep.PropsCleared, _ = res.RowsAffected()
	}
	rep.Seconds = time.Since(t0).Seconds()
	if rep.EventsMinimised+rep.RejectedDeleted+rep.ReasonsCleared+rep.PropsCleared > 0 || rep.FilesDeleted > 0 {
		if err := audit.Record(ctx, db, audit.Entry{Actor: audit.ActorSystem, Action: "privacy.retention", Detail: map[string]any{
			"events_minimised": rep.EventsMinimised, "rejected_deleted": rep.RejectedDeleted, "message_copies_deleted": rep.FilesDeleted,
			"send_reasons_cleared": rep.ReasonsCleared, "run_properties_cleared": rep.PropsCleared}}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// minimiseOld minimises events received before cut: first those received since the last
// run's cutoff (an index range scan per source), then events inserted since the last run
// that claim an older receipt time (imports of history).
func minimiseOld(ctx context.Context, db *store.DB, cut int64) (int64, error) {
	done, err := settingInt(ctx, db, eventsDoneSetting)
	if err != nil {
		return 0, err
	}
	lastSeq, err := settingInt(ctx, db, eventsSeqSetting)
	if err != nil {
		return 0, err
	}
	maxSeq, err := db.MaxEventSeq(ctx)
	if err != nil {
		return 0, err
	}
	srcs, err := db.Sources(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, src := range srcs {
		// Keyset pagination in the index's order (received_at, then seq).
		at, after := done, int64(-1)
		for {
			n, lastAt, last, err := minimiseChunk(ctx, db, `SELECT seq, body, received_at FROM events WHERE source_id = ? AND received_at < ?
				AND (received_at > ? OR (received_at = ? AND seq > ?)) ORDER BY received_at, seq LIMIT ?`,
				src.ID, cut, at, at, after, retentionChunk)
			if err != nil {
				return total, err
			}
			total += n
			if last < 0 {
				break
			}
			at, after = lastAt, last
		}
	}
	if done > 0 {
		after := lastSeq
		for {
			n, _, last, err := minimiseChunk(ctx, db, `SELECT seq, body, received_at FROM events WHERE seq > ? AND seq <= ? AND received_at < ? ORDER BY seq LIMIT ?`,
				after, maxSeq, done, retentionChunk)
			if err != nil {
				return total, err
			}
			total += n
			if last < 0 {
				break
			}
			after = last
		}
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, eventsDoneSetting, strconv.FormatInt(max(cut, done), 10)); err != nil {
			return err
		}
		return store.SetSetting(ctx, tx, eventsSeqSetting, strconv.FormatInt(maxSeq, 10))
	})
	return total, err
}

// minimiseChunk reads one chunk with q (seq, body, received_at) and rewrites the bodies
// that minimising changes (it is idempotent). It returns the received_at and seq of the
// last row read, seq -1 when the chunk was empty.
func minimiseChunk(ctx context.Context, db *store.DB, q string, args ...any) (n, lastAt, last int64, err error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return 0, 0, -1, fmt.Errorf("retention: read events: %w", err)
	}
	type upd struct {
		seq  int64
		body []byte
	}
	var todo []upd
	last = -1
	for rows.Next() {
		var seq, at int64
		var body []byte
		if err := rows.Scan(&seq, &body, &at); err != nil {
			rows.Close()
			return 0, 0, -1, err
		}
		last, lastAt = seq, at
		if nb := minimise(body, true, "retention"); !bytes.Equal(nb, body) {
			todo = append(todo, upd{seq, nb})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, -1, err
	}
	if len(todo) == 0 {
		return 0, lastAt, last, nil
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, u := range todo {
			if _, err := tx.Exec(ctx, `UPDATE events SET body = ? WHERE seq = ?`, string(u.body), u.seq); err != nil {
				return fmt.Errorf("retention: minimise event %d: %w", u.seq, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, -1, err
	}
	return int64(len(todo)), lastAt, last, nil
}

func settingInt(ctx context.Context, db *store.DB, key string) (int64, error) {
	v, ok, err := db.Setting(ctx, key)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// deleteOldCopies removes message copies in DATA/outbox last written before cut.
func deleteOldCopies(dataDir string, cut time.Time) (int, error) {
	if dataDir == "" {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(filepath.Join(dataDir, OutboxDir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().Before(cut) {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return n, fmt.Errorf("retention: outbox: %w", err)
	}
	return n, nil
}

// RetentionLoop runs RunRetention at start and then every interval until ctx ends;
// errors go to log and the next run retries.
func RetentionLoop(ctx context.Context, db *store.DB, interval time.Duration, log *slog.Logger) {
	for {
		if rep, err := RunRetention(ctx, db, time.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("privacy retention", "err", err)
		} else if rep.EventsMinimised+rep.RejectedDeleted > 0 || rep.FilesDeleted > 0 {
			log.Info("privacy retention", "events_minimised", rep.EventsMinimised, "rejected_deleted", rep.RejectedDeleted,
				"message_copies_deleted", rep.FilesDeleted, "seconds", rep.Seconds)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
