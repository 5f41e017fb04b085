package usage

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

// Costs a user can check by hand against the providers' price pages (USD per 1M tokens).
func TestCost(t *testing.T) {
	p := DefaultPrices()
	cases := []struct {
		name string
		u    Usage
		want float64
	}{
		// gpt-4o: input 2.50, cached input 1.25, output 10.
		{"openai with cached tokens", Usage{Model: "gpt-4o", PromptTokens: 1000, CacheReadTokens: 200, CompletionTokens: 500},
			(800*2.5 + 200*1.25 + 500*10) / 1e6},
		// A snapshot listed apart keeps its own price: gpt-4o-2024-05-13 is 5 / 15.
		{"openai listed snapshot", Usage{Model: "gpt-4o-2024-05-13", PromptTokens: 1000, CompletionTokens: 500},
			(1000*5 + 500*15) / 1e6},
		// o4-mini: 1.10 / cached 0.275 / 4.40; reasoning is inside the completion tokens.
		{"openai reasoning (fixture)", fixtures[0].want, (93*1.1 + 1024*0.275 + 446*4.4) / 1e6},
		{"legacy completions", Usage{Model: "gpt-3.5-turbo-instruct", PromptTokens: 5, CompletionTokens: 7}, (5*1.5 + 7*2) / 1e6},
		// claude-sonnet-4-5: 3 / write 3.75 / read 0.30 / 15.
		{"anthropic with cache write and read", Usage{Model: "claude-sonnet-4-5-20250929", PromptTokens: 100 + 1000 + 2000,
			CacheCreationTokens: 1000, CacheReadTokens: 2000, CompletionTokens: 500}, (100*3 + 1000*3.75 + 2000*0.3 + 500*15) / 1e6},
		// 5-minute writes at cache_write (3.75), 1-hour writes at cache_write_1h (6).
		{"anthropic 5-minute and 1-hour writes", Usage{Model: "claude-sonnet-4-5", PromptTokens: 100 + 1000,
			CacheCreationTokens: 1000, CacheWrite5mTokens: 600, CacheWrite1hTokens: 400, CompletionTokens: 10},
			(100*3 + 600*3.75 + 400*6 + 10*15) / 1e6},
		// The split left out: all writes are 5-minute writes.
		{"anthropic writes without a split", Usage{Model: "claude-sonnet-4-5", PromptTokens: 1100,
			CacheCreationTokens: 1000, CompletionTokens: 10}, (100*3 + 1000*3.75 + 10*15) / 1e6},
		// A split larger than the total cannot make writes cost more than the total of them.
		{"anthropic split above its total", Usage{Model: "claude-sonnet-4-5", PromptTokens: 1100,
			CacheCreationTokens: 1000, CacheWrite1hTokens: 5000, CompletionTokens: 10}, (100*3 + 1000*6 + 10*15) / 1e6},
		// The list's 1-hour price for claude-3-haiku is implausible (24× input) and left out:
		// 2× input (0.25) applies.
		{"anthropic 1-hour writes at 2x input", Usage{Model: "claude-3-haiku-20240307", PromptTokens: 1000,
			CacheCreationTokens: 1000, CacheWrite1hTokens: 1000}, 1000 * 0.5 / 1e6},
		{"anthropic 1-hour writes above 200k", Usage{Model: "claude-sonnet-4-5", PromptTokens: 250_000,
			CacheCreationTokens: 100_000, CacheWrite1hTokens: 100_000}, (150_000*6 + 100_000*12) / 1e6},
		{"anthropic above 200k", Usage{Model: "claude-sonnet-4-5", PromptTokens: 250_000, CacheReadTokens: 100_000, CompletionTokens: 1000},
			(150_000*6 + 100_000*0.6 + 1000*22.5) / 1e6},
		// gemini-2.5-flash: 0.30 / cached 0.03 / 2.50 (thoughts billed as output).
		{"gemini with cache and thoughts (fixture)", fixtures[13].want, (186*0.3 + 1024*0.03 + 630*2.5) / 1e6},
		// gemini-2.5-pro: 1.25 / 0.125 / 10 up to 200k prompt tokens, then 2.50 / 0.25 / 15.
		{"gemini at 200k", Usage{Model: "gemini-2.5-pro", PromptTokens: 200_000, CompletionTokens: 1000}, (200_000*1.25 + 1000*10) / 1e6},
		{"gemini above 200k", Usage{Model: "models/gemini-2.5-pro", PromptTokens: 250_000, CacheReadTokens: 50_000, CompletionTokens: 1000},
			(200_000*2.5 + 50_000*0.25 + 1000*15) / 1e6},
		{"gemini embedding", Usage{Model: "gemini-embedding-001", PromptTokens: 1000}, 1000 * 0.15 / 1e6},
	}
	for _, c := range cases {
		c.u.Source = SourceResponse
		got, known := p.Cost(c.u)
		if !known || !approx(got, c.want) {
			t.Errorf("%s: Cost = %v, %v; want %v", c.name, got, known, c.want)
		}
	}
}

func TestCostUnknown(t *testing.T) {
	p := DefaultPrices()
	for _, u := range []Usage{
		{Model: "gpt-9-ultra", PromptTokens: 10, Source: SourceResponse},
		{Model: "", PromptTokens: 10, Source: SourceResponse},
		{Model: "text-embedding-3-small", PromptTokens: 10, Source: SourceResponse}, // not in the list
		{Model: "gpt-4o"}, // no usage read
	} {
		if usd, known := p.Cost(u); known || usd != 0 {
			t.Errorf("Cost(%+v) = %v, %v; want unknown", u, usd, known)
		}
	}
}

func TestLookupSpellings(t *testing.T) {
	p := DefaultPrices()
	cases := []struct{ in, as string }{
		{"openai/gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"gpt-4o-2099-01-01", "gpt-4o"}, // an unlisted snapshot
		{"models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5-20991231", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"},
		{"anthropic/claude-opus-4-1", "claude-opus-4-1-20250805"},
		{"claude-3-7-sonnet", "claude-3-7-sonnet-20250219"}, // only the dated name is listed
		{"claude-3-haiku", "claude-3-haiku-20240307"},
	}
	for _, c := range cases {
		got, ok := p.Lookup(c.in)
		want, wok := p.Lookup(c.as)
		if !ok || !wok || got.Input != want.Input || got.Output != want.Output || got.CacheRead != want.CacheRead {
			t.Errorf("Lookup(%q) = %+v, %v; want the price of %q %+v", c.in, got, ok, c.as, want)
		}
	}
	for _, name := range []string{"gpt-4o-mini-2099", "claude", "gemini", "gpt-4o/", "x-20250929", strings.Repeat("a", 300)} {
		if _, ok := p.Lookup(name); ok {
			t.Errorf("Lookup(%q) found a price", name)
		}
	}
}

// Listed takes only the names as listed (and undated aliases), so that a client cannot make
// up endless spellings that count as known (metrics give each listed name its own series).
func TestListed(t *testing.T) {
	p := DefaultPrices().With(map[string]Price{"My-Local-Model": {Input: 1}})
	for _, name := range []string{"gpt-4o", "claude-3-7-sonnet", "claude-3-7-sonnet-20250219", "my-local-model"} {
		if !p.Listed(name) {
			t.Errorf("Listed(%q) = false", name)
		}
	}
	for _, name := range []string{"GPT-4o", "openai/gpt-4o", "gpt-4o-2099-01-01", "x/my-local-model", "mystery", ""} {
		if p.Listed(name) {
			t.Errorf("Listed(%q) = true", name)
		}
	}
}

func TestPricesWith(t *testing.T) {
	base := DefaultPrices()
	p := base.With(map[string]Price{
		"GPT-4o":         {Input: 1, Output: 2},
		"my-local-model": {Input: 0.5, Output: 0.5},
		"gemini-2.5-pro": {Input: 1, Output: 1, Above200k: &Price{Input: 3, Output: 3}},
	})
	u := Usage{Model: "gpt-4o", PromptTokens: 1000, CacheReadTokens: 200, CompletionTokens: 500, Source: SourceResponse}
	if got, _ := p.Cost(u); !approx(got, (1000*1+500*2)/1e6) { // no cache price: cached tokens at input price
		t.Errorf("override: %v", got)
	}
	if got, _ := base.Cost(u); !approx(got, (800*2.5+200*1.25+500*10)/1e6) {
		t.Errorf("the default table changed: %v", got)
	}
	if got, known := p.Cost(Usage{Model: "openai/my-local-model", PromptTokens: 2e6, Source: SourceResponse}); !known || !approx(got, 1) {
		t.Errorf("added model: %v %v", got, known)
	}
	if got, _ := p.Cost(Usage{Model: "gemini-2.5-pro", PromptTokens: 300_000, Source: SourceResponse}); !approx(got, 0.9) {
		t.Errorf("override tier: %v", got)
	}
	if p.Len() != base.Len()+1 {
		t.Errorf("Len = %d, want %d", p.Len(), base.Len()+1)
	}
}

// The embedded table is what gen_prices.go writes from the licensed list, dated and sourced.
func TestEmbeddedPrices(t *testing.T) {
	var file struct {
		Source string                     `json:"source"`
		AsOf   string                     `json:"as_of"`
		Models map[string]json.RawMessage `json:"models"`
	}
	if err := json.Unmarshal(pricesJSON, &file); err != nil {
		t.Fatal(err)
	}
	if file.AsOf != PricesAsOf || file.Source != PricesSource {
		t.Errorf("prices.json says %q / %q; the constants say %q / %q", file.AsOf, file.Source, PricesAsOf, PricesSource)
	}
	if n := DefaultPrices().Len(); n != len(file.Models) || n < 150 {
		t.Errorf("%d models loaded from %d listed", n, len(file.Models))
	}
	if !strings.Contains(PricesLicense, "MIT License") || !strings.Contains(PricesLicense, "Permission is hereby granted") {
		t.Error("the licence notice is missing")
	}
	for _, m := range []string{"gpt-5", "gpt-4.1-mini", "o3", "claude-opus-4-5", "claude-haiku-4-5", "gemini-2.5-flash-lite", "gemini-3-pro-preview"} {
		if pr, ok := DefaultPrices().Lookup(m); !ok || pr.Input <= 0 || pr.Output <= 0 {
			t.Errorf("%s: %+v %v", m, pr, ok)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	p := DefaultPrices()
	for _, m := range []string{"gpt-4o-2024-08-06", "models/Gemini-2.5-Flash", "claude-sonnet-4-5-20991231", "nope"} {
		if n := testing.AllocsPerRun(100, func() { p.Lookup(m) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", m, n)
		}
	}
}
