package admin

import (
	"time"

	"github.com/aigw/aigw/store"
)

// keyOut is how the server sends a Key: the record and when a request last
// presented it (the proxy's figure; nil: never).
type keyOut struct {
	store.Key
	LastUsedAt *time.Time  `json:"last_used_at"`
	BudgetUse  []BudgetUse `json:"budget_use"`
}

// withLastUsed adds the keys' last_used_at from the proxy.
func (s *Server) withLastUsed(ks ...store.Key) []keyOut {
	budgets := budgetUseOf(s, "key:", ks, func(k *store.Key) string { return k.ID })
	out := make([]keyOut, len(ks))
	for i, k := range ks {
		out[i].Key = k
		out[i].BudgetUse = budgets.of("key:" + k.ID)
		if s.lastUsed == nil {
			continue
		}
		if t, ok := s.lastUsed(k.ID); ok {
			out[i].LastUsedAt = &t
		}
	}
	return out
}

// budgetUses are the budgets' use now, by subject ("key:ID",
// "provider:NAME", "credential:ID").
type budgetUses map[string][]BudgetUse

// budgetUse asks the proxy for the use of the subjects' budgets (nil
// without a proxy): an answer costs what it lists, however many budgets
// there are.
func (s *Server) budgetUse(subjects []string) budgetUses {
	if s.budgets == nil {
		return nil
	}
	return s.budgets(subjects)
}

// budgetUseOf is the budgets' use of items, each the subject kind (e.g.
// "key:") followed by its id.
func budgetUseOf[T any](s *Server, kind string, items []T, id func(*T) string) budgetUses {
	subjects := make([]string, len(items))
	for i := range items {
		subjects[i] = kind + id(&items[i])
	}
	return s.budgetUse(subjects)
}

// of is subject's budgets; [] when it has none.
func (b budgetUses) of(subject string) []BudgetUse {
	if u := b[subject]; u != nil {
		return u
	}
	return []BudgetUse{}
}
