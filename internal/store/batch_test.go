package store_test

import (
	"context"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestRowSetAndIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE bt (id BIGINT PRIMARY KEY, name TEXT NOT NULL, n BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			rs := store.NewRowSet(tx.Dialect, "id bigint", "name text", "n bigint")
			rs.Add(int64(1), "a'b\"c", 10)
			rs.Add(int64(1<<53+1), "ünï", -3)
			rs.Add(int64(3), "bad\xffutf8", 0)
			from, args := rs.Table("v")
			if _, err := tx.Exec(ctx, `INSERT INTO bt (id, name, n) SELECT v.id, v.name, v.n FROM `+from+` WHERE true`, args...); err != nil {
				return err
			}
			up := store.NewRowSet(tx.Dialect, "id bigint", "n bigint")
			up.Add(3, 7)
			from, args = up.Table("u")
			if _, err := tx.Exec(ctx, `UPDATE bt SET n = u.n FROM `+from+` WHERE bt.id = u.id`, args...); err != nil {
				return err
			}
			// An empty set is a valid table.
			from, args = store.NewRowSet(tx.Dialect, "id bigint").Table("e")
			_, err := tx.Exec(ctx, `DELETE FROM bt WHERE id IN (SELECT e.id FROM `+from+`)`, args...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		cond, arg := store.InInt64(db.Dialect, "id", []int64{1<<53 + 1, 3, 99})
		rows, err := db.Query(ctx, `SELECT id, name, n FROM bt WHERE `+cond+` ORDER BY id`, arg)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		type row struct {
			id   int64
			name string
			n    int64
		}
		var got []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name, &r.n); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		want := []row{{3, "bad\uFFFDutf8", 7}, {1<<53 + 1, "ünï", -3}}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		cond, arg = store.InText(db.Dialect, "name", []string{"a'b\"c", "zz"})
		var id int64
		if err := db.QueryRow(ctx, `SELECT id FROM bt WHERE `+cond, arg).Scan(&id); err != nil || id != 1 {
			t.Fatalf("InText: id %d, err %v", id, err)
		}
		cond, arg = store.InText(db.Dialect, "name", nil)
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM bt WHERE `+cond, arg).Scan(&n); err != nil || n != 0 {
			t.Fatalf("empty InText: %d, %v", n, err)
		}
	})
}
