package admin

import "github.com/aigw/aigw/store"

// withLastUsed fills the keys' last_used_at from the proxy.
func (s *Server) withLastUsed(ks []store.Key) {
	if s.lastUsed == nil {
		return
	}
	used := s.lastUsed()
	for i := range ks {
		if t, ok := used[ks[i].ID]; ok {
			ks[i].LastUsedAt = &t
		}
	}
}

// keyWithLastUsed is k with its last_used_at.
func (s *Server) keyWithLastUsed(k store.Key) store.Key {
	ks := []store.Key{k}
	s.withLastUsed(ks)
	return ks[0]
}
