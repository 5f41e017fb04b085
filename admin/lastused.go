package admin

import (
	"time"

	"github.com/aigw/aigw/store"
)

// keyOut is how the server sends a Key: the record and when a request last
// presented it (the proxy's figure; nil: never).
type keyOut struct {
	store.Key
	LastUsedAt *time.Time `json:"last_used_at"`
}

// withLastUsed adds the keys' last_used_at from the proxy.
func (s *Server) withLastUsed(ks ...store.Key) []keyOut {
	var used map[string]time.Time
	if s.lastUsed != nil {
		used = s.lastUsed()
	}
	out := make([]keyOut, len(ks))
	for i, k := range ks {
		out[i].Key = k
		if t, ok := used[k.ID]; ok {
			out[i].LastUsedAt = &t
		}
	}
	return out
}
