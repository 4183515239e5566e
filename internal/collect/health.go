package collect

import (
	"fmt"
	"time"
)

// commitResult is how the committer's latest transaction ended.
type commitResult struct {
	err error
	at  time.Time
}

// CommitHealth is the error of the latest commit when it failed less than maxAge ago; nil
// when it succeeded, is older, or nothing was committed yet. /healthz reports a store that
// refuses the events it is sent even when a small probe write still fits (a nearly full
// disk); maxAge lets a server that stopped receiving events become healthy again.
func (h *Handler) CommitHealth(maxAge time.Duration) error {
	r := h.lastCommit.Load()
	if r == nil || r.err == nil || time.Since(r.at) > maxAge {
		return nil
	}
	return fmt.Errorf("last commit of events (%s): %w", r.at.UTC().Format(time.RFC3339), r.err)
}
