package gateway

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go runtime lets the heap grow to twice what is live (GOGC=100)
// before it collects, and keeps about that much resident. With a large
// configuration (100,000 keys are ~35 MiB live) that doubles the
// gateway's memory for nothing: the requests' own working memory is a few
// MiB. So the room between collections is capped: GOGC is lowered until
// it allows at most gcHeadroom over the live heap, never below gcMinPercent
// (collections stay rare however large the configuration). Small
// configurations keep Go's default.
const (
	gcHeadroom   = 16 << 20
	gcMinPercent = 25
	gcTuneEvery  = 30 * time.Second
)

// gcPercentFor is the GOGC for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	return max(gcMinPercent, min(100, int(100*gcHeadroom/live)))
}

// tuneGC sets GOGC from the live heap now and every gcTuneEvery until ctx
// ends, and gives back the database pages that reads mapped meanwhile
// (release; the trace writer does it after every batch, but an idle
// gateway writes none).
func tuneGC(ctx context.Context, release func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live := sample[0].Value.Uint64()
			if pct := gcPercentFor(live); pct != last {
				debug.SetGCPercent(pct)
				last = pct
			}
			if live > gcHeadroom {
				// The runtime gives freed memory back slowly (1 % of a
				// core): with a large configuration that leaves tens of
				// MiB resident long after a burst. One collection every
				// gcTuneEvery gives it back now (~20 ms of one core at
				// 100,000 keys).
				debug.FreeOSMemory()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(gcTuneEvery):
		}
		release()
	}
}
