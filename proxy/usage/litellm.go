package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Price lists in LiteLLM's model_prices_and_context_window.json format (the built-in table's
// own source, see gen_prices.go), read for `aigw prices import`, and the table an import
// stores (prices.json's format).

// Limits of an imported price list: it comes from a file the operator chose, but it is
// still bounded like anything else aigw keeps.
const (
	MaxPriceListBytes  = 16 << 20
	MaxPriceListModels = 50_000
	maxModelName       = 256
)

// litellmProviders are the litellm_provider values of the APIs the gateway speaks; an entry
// of another provider (bedrock, azure, openrouter, …) may share a model's name but not its
// price, and is left out. An entry without litellm_provider (a list the operator wrote) is
// kept.
var litellmProviders = map[string]bool{
	"openai":                     true,
	"text-completion-openai":     true,
	"anthropic":                  true,
	"gemini":                     true,
	"vertex_ai-language-models":  true,
	"vertex_ai-embedding-models": true,
}

// litellmFields are the price fields read (USD per token), in the order Price has them.
var litellmFields = [...]string{
	"input_cost_per_token", "output_cost_per_token", "cache_creation_input_token_cost",
	"cache_read_input_token_cost", "cache_creation_input_token_cost_above_1hr",
	"input_cost_per_token_above_200k_tokens", "output_cost_per_token_above_200k_tokens",
	"cache_creation_input_token_cost_above_200k_tokens", "cache_read_input_token_cost_above_200k_tokens",
	"cache_creation_input_token_cost_above_1hr_above_200k_tokens",
}

// PriceListError names the model and field of a price list that is wrong.
type PriceListError struct {
	Model, Field, Msg string
}

func (e *PriceListError) Error() string {
	switch {
	case e.Model == "":
		return "price list: " + e.Msg
	case e.Field == "":
		return fmt.Sprintf("price list: model %q: %s", e.Model, e.Msg)
	}
	return fmt.Sprintf("price list: model %q: %s: %s", e.Model, e.Field, e.Msg)
}

// ImportReport says what ParseLiteLLM kept and left out.
type ImportReport struct {
	Models        int      // models kept
	OtherProvider int      // entries of a provider the gateway does not speak to
	NoPrice       int      // entries without both an input and an output price
	Notes         []string // figures left out, one line each (at most 20)
}

// ParseLiteLLM reads a price list in LiteLLM's format: a JSON object of model name → entry,
// prices in USD per token. It returns the prices in USD per 1M tokens, by Lookup's form of
// the name. Any field it reads with a wrong type, a negative or out-of-range number, a
// model name that is empty, too long or not printable, or a list that is not such an
// object is an error (*PriceListError) naming the model and field; nothing is returned then.
// Fields it does not read are ignored. The same rules as the built-in table apply: an entry
// without both an input and an output price is left out, and a 1-hour cache write price
// below the input price or above 3× it is left out (2× input applies).
func ParseLiteLLM(data []byte) (map[string]Price, ImportReport, error) {
	var rep ImportReport
	if len(data) > MaxPriceListBytes {
		return nil, rep, &PriceListError{Msg: fmt.Sprintf("larger than %d MiB", MaxPriceListBytes>>20)}
	}
	var all map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&all); err != nil {
		return nil, rep, &PriceListError{Msg: "not a JSON object of model name → prices: " + jsonProblem(err)}
	}
	if dec.More() {
		return nil, rep, &PriceListError{Msg: "more than one JSON value"}
	}
	if len(all) > MaxPriceListModels {
		return nil, rep, &PriceListError{Msg: fmt.Sprintf("%d entries; at most %d", len(all), MaxPriceListModels)}
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	// Prefixed names ("gemini/gemini-2.5-pro") first, so that the plain name wins when both
	// are listed.
	sort.Slice(names, func(i, j int) bool {
		pi, pj := strings.Contains(names[i], "/"), strings.Contains(names[j], "/")
		if pi != pj {
			return pi
		}
		return names[i] < names[j]
	})
	out := make(map[string]Price)
	for _, name := range names {
		if name == "sample_spec" { // LiteLLM's documentation of the format
			continue
		}
		if name == "" || len(name) > maxModelName || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
			return nil, rep, &PriceListError{Model: clip(name), Msg: "the model name must be 1 to 256 printable characters"}
		}
		var entry map[string]json.RawMessage
		if err := json.Unmarshal(all[name], &entry); err != nil || entry == nil {
			return nil, rep, &PriceListError{Model: name, Msg: "not a JSON object"}
		}
		if raw, ok := entry["litellm_provider"]; ok && string(raw) != "null" {
			var prov string
			if err := json.Unmarshal(raw, &prov); err != nil {
				return nil, rep, &PriceListError{Model: name, Field: "litellm_provider", Msg: "want a string, got " + jsonKind(raw)}
			}
			if !litellmProviders[prov] {
				rep.OtherProvider++
				continue
			}
		}
		var v [len(litellmFields)]float64
		var set [len(litellmFields)]bool
		for i, field := range litellmFields {
			raw, ok := entry[field]
			if !ok || string(raw) == "null" {
				continue
			}
			f, err := perMillion(raw)
			if err != nil {
				return nil, rep, &PriceListError{Model: name, Field: field, Msg: err.Error()}
			}
			v[i], set[i] = f, true
		}
		if !set[0] || !set[1] {
			rep.NoPrice++
			continue
		}
		pr := Price{Input: v[0], Output: v[1], CacheWrite: v[2], CacheRead: v[3], CacheWrite1h: v[4]}
		if set[4] && !plausible1h(v[4], v[0]) {
			pr.CacheWrite1h = 0
			rep.note(fmt.Sprintf("%s: 1-hour cache write price %g is implausible beside input %g: 2× input applies", name, v[4], v[0]))
		}
		if set[5] || set[6] {
			tier := Price{Input: v[5], Output: v[6], CacheWrite: v[7], CacheRead: v[8], CacheWrite1h: v[9]}
			if !set[5] {
				tier.Input = pr.Input
			}
			if !set[6] {
				tier.Output = pr.Output
			}
			if set[9] && !plausible1h(v[9], tier.Input) {
				tier.CacheWrite1h = 0
				rep.note(fmt.Sprintf("%s: 1-hour cache write price above 200k %g is implausible beside input %g: 2× input applies", name, v[9], tier.Input))
			}
			pr.Above200k = &tier
		}
		out[canonicalName(name)] = pr
	}
	rep.Models = len(out)
	return out, rep, nil
}

func (r *ImportReport) note(s string) {
	if len(r.Notes) < 20 {
		r.Notes = append(r.Notes, s)
	}
}

// plausible1h: a 1-hour write costs more than a plain input token and Anthropic asks 2×.
func plausible1h(v, input float64) bool { return v >= input && v <= 3*input }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// clip is a bad model name, short and printable, for an error message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// perMillion converts a JSON price per token to USD per 1M tokens, exactly in decimal.
func perMillion(raw json.RawMessage) (float64, error) {
	var n json.Number
	if k := jsonKind(raw); k != "a number" {
		return 0, errors.New("want a number, got " + k)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("want a number, got " + jsonKind(raw))
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, fmt.Errorf("%s is not a number", n)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("%s is negative", n)
	}
	f, _ := r.Mul(r, big.NewRat(1_000_000, 1)).Float64()
	if math.IsInf(f, 0) || f > 1e9 {
		return 0, fmt.Errorf("%s is out of range", n)
	}
	return f, nil
}

// jsonKind names the type of a JSON value for an error message.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return "the top level is " + te.Value
	}
	return "invalid JSON: " + err.Error()
}

// EncodeTable writes models (USD per 1M tokens) in prices.json's format, the form an
// imported list is stored in.
func EncodeTable(models map[string]Price, source, asOf string) []byte {
	file := struct {
		Source string               `json:"source"`
		AsOf   string               `json:"as_of"`
		Unit   string               `json:"unit"`
		Models map[string]filePrice `json:"models"`
	}{source, asOf, "USD per 1M tokens", make(map[string]filePrice, len(models))}
	for name, p := range models {
		file.Models[name] = toFilePrice(p)
	}
	b, _ := json.Marshal(file) // maps of floats and strings always encode
	return b
}

func toFilePrice(p Price) filePrice {
	f := filePrice{Input: p.Input, Output: p.Output, CacheWrite: p.CacheWrite, CacheWrite1h: p.CacheWrite1h, CacheRead: p.CacheRead}
	if p.Above200k != nil {
		t := toFilePrice(*p.Above200k)
		f.Above200k = &t
	}
	return f
}

// DecodeTable reads what EncodeTable wrote (or prices.json): the models and the source and
// date it names.
func DecodeTable(data []byte) (models map[string]Price, source, asOf string, err error) {
	var file struct {
		Source string               `json:"source"`
		AsOf   string               `json:"as_of"`
		Models map[string]filePrice `json:"models"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, "", "", fmt.Errorf("price table: %w", err)
	}
	models = make(map[string]Price, len(file.Models))
	for name, f := range file.Models {
		models[name] = f.price()
	}
	return models, file.Source, file.AsOf, nil
}
