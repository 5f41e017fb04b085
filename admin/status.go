package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/aigw/aigw/store"
)

// Status is the gateway's state at a glance (the TUI's overview).
type Status struct {
	Version     string          `json:"version"`
	StartedAt   time.Time       `json:"started_at"`
	ProxyAddr   string          `json:"proxy_addr"`
	InFlight    int64           `json:"in_flight"`
	TraceQueue  int             `json:"trace_queue"`
	WriterLagMS float64         `json:"writer_lag_ms"`
	Credentials map[string]int  `json:"credentials"` // count per state: healthy, cooling_down, invalid, disabled, broken, quota_exhausted, budget_exhausted
	Today       StatusToday     `json:"today"`
	Out         []OutCredential `json:"out_of_rotation"` // credentials not healthy (disabled excluded)
	// BrokenProviders are the providers out of service because their
	// configuration could not be loaded.
	BrokenProviders []BrokenProvider `json:"broken_providers"`
}

// BrokenProvider is a provider out of service, with the reason.
type BrokenProvider struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// StatusToday sums the current UTC day's roll-ups.
type StatusToday struct {
	Day      string  `json:"day"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Tokens   int64   `json:"tokens"`
	CostUSD  float64 `json:"cost_usd"`
	// CostUnknown counts today's requests with usage but no price (a model
	// missing from the price table): CostUSD leaves them out.
	CostUnknown int64 `json:"cost_unknown"`
}

// OutCredential is a credential out of rotation.
type OutCredential struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider,omitempty"`
	Name      string    `json:"name,omitempty"`
	State     string    `json:"state"`
	Until     time.Time `json:"until,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Reason    string    `json:"reason,omitempty"` // why a quota_exhausted or budget_exhausted credential is out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	if s.statusFn == nil {
		return &httpError{status: http.StatusNotFound, msg: "status is not available"}
	}
	st := s.statusFn()
	day := store.UsageDay(time.Now())
	rows, err := s.store.Usage(storeUsageDay(day))
	if err != nil {
		return err
	}
	st.Today.Day = day
	for _, row := range rows {
		st.Today.Requests += row.Requests
		st.Today.Errors += row.Errors
		st.Today.Tokens += row.PromptTokens + row.CompletionTokens
		st.Today.CostUSD += row.CostUSD
		st.Today.CostUnknown += row.CostUnknown
	}
	if len(st.Out) > 0 {
		creds, err := s.store.AllCredentials()
		if err != nil {
			return err
		}
		byID := make(map[string]*store.Credential, len(creds))
		for i := range creds {
			byID[creds[i].ID] = &creds[i]
		}
		for i := range st.Out {
			if c := byID[st.Out[i].ID]; c != nil {
				st.Out[i].Provider, st.Out[i].Name = c.Provider, c.Name
			}
		}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// Status returns the gateway's state at a glance.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	return out, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &out)
}
