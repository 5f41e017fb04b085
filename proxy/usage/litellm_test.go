package usage

import (
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The built-in table's own source (testdata/litellm_model_prices.json, the licensed list
// prices.json was generated from; MIT, see prices.LICENSE), imported, gives exactly the
// built-in table: an operator who imports a newer copy gets the same rules.
func TestParseLiteLLMMatchesTheBuiltInTable(t *testing.T) {
	raw, err := os.ReadFile("testdata/litellm_model_prices.json")
	if err != nil {
		t.Fatal(err)
	}
	got, rep, err := ParseLiteLLM(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Price{}
	for _, e := range DefaultPrices().Entries() {
		want[e.Model] = e.Price
	}
	if !reflect.DeepEqual(got, want) {
		for name, p := range want {
			if g, ok := got[name]; !ok || !reflect.DeepEqual(g, p) {
				t.Errorf("%s: imported %+v (listed %v), built in %+v", name, g, ok, p)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s imported, not built in", name)
			}
		}
	}
	if rep.Models != len(want) || rep.OtherProvider == 0 || len(rep.Notes) != 2 {
		t.Errorf("report %+v", rep)
	}
}

func TestParseLiteLLM(t *testing.T) {
	got, rep, err := ParseLiteLLM([]byte(`{
		"sample_spec": {"input_cost_per_token": 0, "litellm_provider": "one of …"},
		"my-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_input_token_cost": null,
			"max_tokens": "many", "supports_vision": true},
		"gemini/my-gemini": {"litellm_provider": "gemini", "input_cost_per_token": 3e-7, "output_cost_per_token": 2.5e-6},
		"my-gemini": {"litellm_provider": "gemini", "input_cost_per_token": 1e-7, "output_cost_per_token": 1e-6},
		"bedrock/claude-x": {"litellm_provider": "bedrock", "input_cost_per_token": 1, "output_cost_per_token": 1},
		"embedding-only": {"input_cost_per_token": 1e-7},
		"Claude-Z": {"input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5, "cache_creation_input_token_cost": 3.75e-6,
			"cache_creation_input_token_cost_above_1hr": 6e-6, "cache_read_input_token_cost": 3e-7,
			"input_cost_per_token_above_200k_tokens": 6e-6}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Price{
		"my-model":  {Input: 1, Output: 2},
		"my-gemini": {Input: 0.1, Output: 1}, // the plain name wins over "gemini/my-gemini"
		"claude-z": {Input: 3, Output: 15, CacheWrite: 3.75, CacheWrite1h: 6, CacheRead: 0.3,
			Above200k: &Price{Input: 6, Output: 15}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if rep.Models != 3 || rep.OtherProvider != 1 || rep.NoPrice != 1 {
		t.Errorf("report %+v", rep)
	}
}

// Wrong types and values are refused with the model and field named, and nothing returned.
func TestParseLiteLLMRefuses(t *testing.T) {
	for _, c := range []struct{ in, model, field, msg string }{
		{`{"m": {"input_cost_per_token": "0.000001", "output_cost_per_token": 1e-6}}`, "m", "input_cost_per_token", "want a number, got a string"},
		{`{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": true}}`, "m", "output_cost_per_token", "want a number, got a boolean"},
		{`{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "cache_read_input_token_cost": -1e-7}}`, "m", "cache_read_input_token_cost", "negative"},
		{`{"m": {"input_cost_per_token": 1e400, "output_cost_per_token": 1e-6}}`, "m", "input_cost_per_token", "out of range"},
		{`{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "litellm_provider": 7}}`, "m", "litellm_provider", "want a string"},
		{`{"m": [1, 2]}`, "m", "", "not a JSON object"},
		{`{"bad\u0007name": {}}`, "bad\\aname", "", "printable"},
		{`[1, 2]`, "", "", "the top level is array"},
		{`{"m": {}`, "", "", "invalid JSON"},
		{`{} {}`, "", "", "more than one"},
	} {
		got, _, err := ParseLiteLLM([]byte(c.in))
		var pe *PriceListError
		if got != nil || !errors.As(err, &pe) || pe.Model != c.model || pe.Field != c.field || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%s: %v, %#v; want model %q field %q msg %q", c.in, got, err, c.model, c.field, c.msg)
		}
	}
}

func TestTableRoundTrip(t *testing.T) {
	in := map[string]Price{"a": {Input: 1, Output: 2, CacheWrite1h: 3}, "b": {Input: 0.1, Output: 0.2, Above200k: &Price{Input: 1, Output: 2}}}
	got, src, asOf, err := DecodeTable(EncodeTable(in, "file.json", "2026-12-02"))
	if err != nil || !reflect.DeepEqual(got, in) || src != "file.json" || asOf != "2026-12-02" {
		t.Fatalf("%v %+v %q %q", err, got, src, asOf)
	}
}

func FuzzParseLiteLLM(f *testing.F) {
	f.Add([]byte(`{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "litellm_provider": "openai"}}`))
	f.Add([]byte(`{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "input_cost_per_token_above_200k_tokens": 5e-6, "cache_creation_input_token_cost_above_1hr": 2e-6}}`))
	f.Add([]byte(`{"x": null, "y": 1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _, err := ParseLiteLLM(raw)
		if err != nil {
			if got != nil {
				t.Fatal("an error with prices")
			}
			return
		}
		for name, p := range got {
			for _, v := range []float64{p.Input, p.Output, p.CacheWrite, p.CacheRead, p.CacheWrite1h} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s: %+v", name, p)
				}
			}
			if canonicalName(name) != name {
				t.Fatalf("%q is not in Lookup's form", name)
			}
		}
	})
}
