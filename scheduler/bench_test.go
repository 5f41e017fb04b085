package scheduler

import (
	"fmt"
	"testing"
	"time"
)

func benchPool(b *testing.B, s Strategy, n int) *Pool {
	b.Helper()
	h := NewHealth(DefaultHealth, nil)
	creds := make([]*Cred, n)
	weights := make([]int, n)
	for i := range creds {
		creds[i] = h.Cred(name(i))
		weights[i] = i + 1
	}
	for _, c := range creds { // give health_best figures to compare
		c.Report(Success, false, 100*time.Millisecond, 0, "")
	}
	p, err := NewPool(s, creds, weights)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPick is the per-request cost of choosing a credential.
func BenchmarkPick(b *testing.B) {
	for _, s := range strategies {
		for _, n := range []int{1, 4, 16, 64, 100, 1000} {
			b.Run(fmt.Sprintf("%s/creds=%d", s, n), func(b *testing.B) {
				if n > MaxPool {
					b.Skipf("a pool holds at most %d credentials", MaxPool)
				}
				p := benchPool(b, s, n)
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok := p.Pick(t0, 0, 0); !ok {
						b.Fatal("no credential")
					}
				}
			})
			if s == CacheAffinity { // with a conversation key: rendezvous over the pool
				b.Run(fmt.Sprintf("%s/creds=%d/conversation", s, n), func(b *testing.B) {
					if n > MaxPool {
						b.Skipf("a pool holds at most %d credentials", MaxPool)
					}
					p := benchPool(b, s, n)
					keys := conversations(1024)
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if _, _, ok := p.PickFor(t0, 0, 0, keys[i&1023]); !ok {
							b.Fatal("no credential")
						}
					}
				})
			}
			b.Run(fmt.Sprintf("%s/creds=%d/parallel", s, n), func(b *testing.B) {
				if n > MaxPool {
					b.Skipf("a pool holds at most %d credentials", MaxPool)
				}
				p := benchPool(b, s, n)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						p.Pick(t0, 0, 0)
					}
				})
			})
		}
	}
}

// BenchmarkPickAllOut is the fallback when every credential is cooling down.
func BenchmarkPickAllOut(b *testing.B) {
	p := benchPool(b, RoundRobin, 16)
	for i := range p.Len() {
		p.Cred(i).Report(RateLimited, false, 0, time.Hour, "429")
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := p.Pick(now, 0, 0); !ok {
			b.Fatal("no credential")
		}
	}
}

// BenchmarkReportSuccess is the per-request cost of recording an outcome.
func BenchmarkReportSuccess(b *testing.B) {
	c := NewHealth(DefaultHealth, nil).Cred("a")
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Report(Success, false, 120*time.Millisecond, 0, "")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Report(Success, false, 120*time.Millisecond, 0, "")
			}
		})
	})
}

func BenchmarkWindowAllow(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		var w Window
		now := t0.UnixNano()
		b.ReportAllocs()
		for b.Loop() {
			w.Allow(now, 1<<40)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var w Window
		now := t0.UnixNano()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Allow(now, 1<<40)
			}
		})
	})
}

// BenchmarkKeyStatesGet shows the limiter lookup costs the same with one
// key as with 100,000, all tracked. at_capacity holds 100,000 keys in a
// KeyStates of capacity 100,000: shards fill unevenly, so a few keys keep
// being evicted and recreated (see "untracked").
func BenchmarkKeyStatesGet(b *testing.B) {
	for _, tc := range []struct {
		name           string
		keys, capacity int
	}{
		{"keys=1", 1, 1},
		{"keys=100000", 100_000, 200_000},
		{"keys=100000/at_capacity", 100_000, 100_000},
	} {
		k := NewKeyStates(tc.capacity)
		ids := make([]string, tc.keys)
		for i := range ids {
			ids[i] = fmt.Sprintf("key_%08d", i)
			k.Get(ids[i], t0)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k.Get(ids[i], t0)
				if i++; i == len(ids) {
					i = 0
				}
			}
			b.ReportMetric(float64(tc.keys-k.Len()), "untracked")
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					k.Get(ids[i], t0)
					if i += 7919; i >= len(ids) {
						i %= len(ids)
					}
				}
			})
			b.ReportMetric(float64(tc.keys-k.Len()), "untracked")
		})
	}
}

// BenchmarkMapLookupBaseline is a bare Go map lookup over the same keys:
// the floor set by memory (cache misses) that KeyStates.Get cannot beat.
func BenchmarkMapLookupBaseline(b *testing.B) {
	for _, keys := range []int{1, 100_000} {
		m := make(map[string]*KeyState, keys)
		ids := make([]string, keys)
		for i := range ids {
			ids[i] = fmt.Sprintf("key_%08d", i)
			m[ids[i]] = &KeyState{id: ids[i]}
		}
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if m[ids[i]] == nil {
					b.Fatal("missing")
				}
				if i++; i == len(ids) {
					i = 0
				}
			}
		})
	}
}
