package store

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
)

// SchemaDigest is a digest of the migrations this binary applies (their names and
// contents): two databases migrated by binaries with the same digest have the same
// schema. Tests use it to name a migrated template database they copy.
func SchemaDigest() string {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		panic("store: embedded migrations: " + err.Error()) // embedded at build time
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			panic("store: embedded migrations: " + err.Error())
		}
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(body)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
