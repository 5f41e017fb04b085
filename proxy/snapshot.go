package proxy

import "github.com/aigw/aigw/store"

// snapshot is the proxy's immutable view of the configuration. It is never
// modified after buildSnapshot returns; a new one replaces it.
type snapshot struct {
	providers map[string]*provider
}

type provider struct {
	name string
	typ  string
}

func buildSnapshot(d *store.Data) (*snapshot, error) {
	s := &snapshot{providers: make(map[string]*provider, len(d.Providers))}
	for _, p := range d.Providers {
		s.providers[p.Name] = &provider{name: p.Name, typ: p.Type}
	}
	return s, nil
}
