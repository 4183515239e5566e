//go:build !omniroi_nodrivers

package store

// The database drivers, registered by name. The omniroi_nodrivers build tag leaves them
// out, for fuzz binaries (.ci/fuzz): fuzz targets parse and never open a database, and
// a coverage-instrumented build of the SQLite driver costs minutes of CPU.
import (
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)
