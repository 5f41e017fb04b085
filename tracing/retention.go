package tracing

import (
	"context"
	"log/slog"
	"time"
)

// Pruner deletes traces past their retention (store.Store does).
type Pruner interface {
	PruneTraces(olderThan time.Time, maxCount uint64, maxDelete int) (int, error)
}

// RunRetention prunes traces older than retention, and the oldest beyond
// maxCount, every interval until ctx ends. Deletions go in small
// transactions, so writers are never held up for long.
func RunRetention(ctx context.Context, p Pruner, retention time.Duration, maxCount uint64, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		n, err := p.PruneTraces(time.Now().Add(-retention), maxCount, 1000)
		switch {
		case err != nil:
			log.Error("pruning old traces", "err", err)
		case n > 0:
			log.Info("pruned old traces", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
