package scheduler

import (
	"hash/fnv"
	"math"
)

// Cache affinity: upstream prompt caches live per account, so the requests
// of one conversation should all reach the same credential. Each request
// carries a conversation key (its affinity); the pool ranks its credentials
// for that key by weighted rendezvous hashing (highest random weight) and
// takes the best-ranked one that is usable. When a credential leaves
// rotation only the conversations it ranked first for move, each to its own
// second choice, so the others keep their warm caches; when it comes back
// they return to it. Weights scale a credential's share of conversations.

// rendezvous is one credential's part in the ranking.
type rendezvous struct {
	seed   uint64  // hash of the credential id: stable across reloads and restarts
	weight float64 // ≥ 1
}

func newRendezvous(creds []*Cred, weights []int) []rendezvous {
	out := make([]rendezvous, len(creds))
	for i, c := range creds {
		h := fnv.New64a()
		_, _ = h.Write([]byte(c.ID))
		w := 1
		if i < len(weights) {
			w = max(weights[i], 1)
		}
		out[i] = rendezvous{seed: h.Sum64(), weight: float64(w)}
	}
	return out
}

// rank is credential i's score for key: w / -ln(u), u uniform in (0, 1)
// from the key and the credential's seed. The highest score wins; with
// equal weights this is plain rendezvous hashing.
func (r *rendezvous) rank(key uint64) float64 {
	u := (float64(mix64(key^r.seed)>>11) + 0.5) / (1 << 53)
	return r.weight / -math.Log(u)
}

// mix64 is a 64-bit finaliser (splitmix64's): every input bit affects
// every output bit.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// pickAffine takes the best-ranked credential for key that is not tried
// and is usable now. A credential whose half-open trial is due is offered
// its trial when it ranks first, so its conversations come back to it.
func (p *Pool) pickAffine(now int64, tried Tried, key uint64) (int, bool) {
	var score [MaxPool]float64
	for i := range p.affinity {
		if !tried.Has(i) {
			score[i] = p.affinity[i].rank(key)
		}
	}
	skip := tried
	for range len(p.creds) {
		best := -1
		for i := range p.affinity {
			if !skip.Has(i) && (best < 0 || score[i] > score[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		if ok, trial := p.creds[best].usable(now); ok {
			return best, trial
		}
		skip.Add(best)
	}
	return -1, false
}
