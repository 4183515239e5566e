package journey

import "github.com/omniroi/omniroi/internal/store"

// ErrNotFound is returned when a journey, template or run does not exist.
var ErrNotFound = store.ErrNotFound
