package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"time"

	"github.com/aigw/aigw/proxy/usage"
)

// Prices: GET /api/v1/prices lists the table the gateway prices requests
// with, each row with its source; PUT /api/v1/prices/imported replaces the
// imported price list (LiteLLM's format) and takes effect at once. The
// order is config [pricing] > imported > built-in.

// PriceRow is one model's price in USD per 1M tokens. A cache price of 0 is
// not set: reads are billed as input, writes at 1.25× input (5-minute) and
// 2× input (1-hour).
type PriceRow struct {
	Model        string     `json:"model"`
	Input        float64    `json:"input"`
	Output       float64    `json:"output"`
	CacheWrite   float64    `json:"cache_write"`
	CacheWrite1h float64    `json:"cache_write_1h"`
	CacheRead    float64    `json:"cache_read"`
	Above200k    *PriceTier `json:"above_200k"` // prices for prompts over 200,000 tokens; null: none
	Source       string     `json:"source"`     // built-in, imported or config
}

// PriceTier is a model's prices above 200,000 prompt tokens.
type PriceTier struct {
	Input        float64 `json:"input"`
	Output       float64 `json:"output"`
	CacheWrite   float64 `json:"cache_write"`
	CacheWrite1h float64 `json:"cache_write_1h"`
	CacheRead    float64 `json:"cache_read"`
}

// PriceImport is what an import kept and left out.
type PriceImport struct {
	Models        int      `json:"models"`
	OtherProvider int      `json:"other_provider"` // entries of providers aigw does not speak to
	NoPrice       int      `json:"no_price"`       // entries without an input and an output price
	Notes         []string `json:"notes"`          // figures left out
}

func (s *Server) listPrices(w http.ResponseWriter, r *http.Request) error {
	glob := r.URL.Query().Get("model")
	if _, err := path.Match(glob, ""); err != nil {
		return badParam("model", "%q is not a glob pattern (*, ?, [a-z])", glob)
	}
	table := usage.DefaultPrices()
	if s.prices != nil {
		table = s.prices()
	}
	out := []PriceRow{}
	for _, e := range table.Entries() {
		if glob != "" {
			if ok, _ := path.Match(glob, e.Model); !ok {
				continue
			}
		}
		row := PriceRow{Model: e.Model, Input: e.Price.Input, Output: e.Price.Output, CacheWrite: e.Price.CacheWrite,
			CacheWrite1h: e.Price.CacheWrite1h, CacheRead: e.Price.CacheRead, Source: e.Source}
		if t := e.Price.Above200k; t != nil {
			row.Above200k = &PriceTier{Input: t.Input, Output: t.Output, CacheWrite: t.CacheWrite, CacheWrite1h: t.CacheWrite1h, CacheRead: t.CacheRead}
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) importPrices(w http.ResponseWriter, r *http.Request) error {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, usage.MaxPriceListBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge, field: "prices", msg: "the price list is larger than 16 MiB"}
		}
		return err
	}
	models, rep, err := usage.ParseLiteLLM(raw)
	if err != nil {
		return &httpError{status: http.StatusBadRequest, field: "prices", msg: err.Error()}
	}
	source := r.URL.Query().Get("source")
	if len(source) > 256 {
		source = source[:256]
	}
	if err := s.store.SetImportedPrices(usage.EncodeTable(models, source, time.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	if s.pricesImported != nil {
		s.pricesImported(models)
	}
	s.log.Info("price list imported", "models", rep.Models, "source", source)
	notes := rep.Notes
	if notes == nil {
		notes = []string{}
	}
	writeJSON(w, http.StatusOK, PriceImport{Models: rep.Models, OtherProvider: rep.OtherProvider, NoPrice: rep.NoPrice, Notes: notes})
	return nil
}

// --- client -------------------------------------------------------------------

// Prices lists the effective price table; glob ("" for all) selects models
// by name (path.Match syntax: claude-*).
func (c *Client) Prices(ctx context.Context, glob string) ([]PriceRow, error) {
	p := "/api/v1/prices"
	if glob != "" {
		p += "?model=" + urlEscape(glob)
	}
	var out []PriceRow
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// ImportPrices replaces the imported price list with list (LiteLLM's
// model_prices_and_context_window.json format); source names it.
func (c *Client) ImportPrices(ctx context.Context, list []byte, source string) (PriceImport, error) {
	var out PriceImport
	return out, c.do(ctx, http.MethodPut, "/api/v1/prices/imported?source="+urlEscape(source), rawBody(list), &out)
}
