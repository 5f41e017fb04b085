//go:build ignore

// gen_prices converts LiteLLM's model price list into prices.json, the table embedded in this
// package. Run it from this directory when the price list is updated:
//
//	go run gen_prices.go -in /path/to/model_prices.json \
//		-as-of 2026-07-24 -source 'LiteLLM model_prices_and_context_window.json via Wei-Shaw/model-price-repo commit f9ff147'
//
// then update PricesAsOf and PricesSource in prices.go (a test checks they match the file) and
// copy the list's LICENSE to prices.LICENSE if it changed.
//
// Only models of the providers the gateway speaks to are kept (litellm_provider openai,
// text-completion-openai, anthropic, gemini, vertex_ai-language-models,
// vertex_ai-embedding-models) and only their token prices: input, output, cache write (5-minute and 1-hour), cache
// read and the _above_200k_tokens tier, converted from USD per token to USD per 1M tokens with
// exact decimal arithmetic. A model without both an input and an output price is left out (its
// cost is then reported unknown rather than wrong). A cache price of 0 is left out too: the
// gateway reads an absent cache price as "billed as input".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"sort"
	"strconv"
)

var providers = map[string]bool{
	"openai":                     true,
	"text-completion-openai":     true,
	"anthropic":                  true,
	"gemini":                     true,
	"vertex_ai-language-models":  true,
	"vertex_ai-embedding-models": true,
}

type entry struct {
	Provider string `json:"litellm_provider"`

	Input        json.Number `json:"input_cost_per_token"`
	Output       json.Number `json:"output_cost_per_token"`
	CacheWrite   json.Number `json:"cache_creation_input_token_cost"`
	CacheWrite1h json.Number `json:"cache_creation_input_token_cost_above_1hr"`
	CacheRead    json.Number `json:"cache_read_input_token_cost"`

	Input200k      json.Number `json:"input_cost_per_token_above_200k_tokens"`
	Output200k     json.Number `json:"output_cost_per_token_above_200k_tokens"`
	CacheWrite200k json.Number `json:"cache_creation_input_token_cost_above_200k_tokens"`
	CacheRead200k  json.Number `json:"cache_read_input_token_cost_above_200k_tokens"`

	CacheWrite1h200k json.Number `json:"cache_creation_input_token_cost_above_1hr_above_200k_tokens"`
}

func main() {
	in := flag.String("in", "", "LiteLLM model_prices.json to read")
	out := flag.String("out", "prices.json", "file to write")
	asOf := flag.String("as-of", "", "date the price list was taken (YYYY-MM-DD)")
	source := flag.String("source", "", "where the price list comes from")
	flag.Parse()
	if *in == "" || *asOf == "" || *source == "" {
		log.Fatal("-in, -as-of and -source are required")
	}

	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "{\n  \"source\": %s,\n  \"as_of\": %s,\n  \"license\": \"MIT, see prices.LICENSE\",\n  \"unit\": \"USD per 1M tokens\",\n  \"models\": {",
		strconv.Quote(*source), strconv.Quote(*asOf))
	kept := 0
	for _, name := range names {
		var e entry
		dec := json.NewDecoder(bytes.NewReader(all[name]))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			continue // not a model entry (e.g. a comment)
		}
		if !providers[e.Provider] {
			continue
		}
		if e.Input == "" || e.Output == "" {
			log.Printf("skipped %s: no input or output price", name)
			continue
		}
		sep := ","
		if kept == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s\n    %s: {", sep, strconv.Quote(name))
		writePrices(w, name, e.Input, e.Output, e.CacheWrite, e.CacheWrite1h, e.CacheRead)
		if e.Input200k != "" || e.Output200k != "" {
			in200, out200 := e.Input200k, e.Output200k
			if in200 == "" {
				in200 = e.Input
			}
			if out200 == "" {
				out200 = e.Output
			}
			w.WriteString(`, "above_200k": {`)
			writePrices(w, name, in200, out200, e.CacheWrite200k, e.CacheWrite1h200k, e.CacheRead200k)
			w.WriteString("}")
		}
		w.WriteString("}")
		kept++
	}
	w.WriteString("\n  }\n}\n")
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d models to %s", kept, *out)
}

func writePrices(w *bufio.Writer, name string, in, out, cacheWrite, cacheWrite1h, cacheRead json.Number) {
	fmt.Fprintf(w, `"input": %s, "output": %s`, perMillion(in), perMillion(out))
	if c := perMillion(cacheWrite); c != "" && c != "0" {
		fmt.Fprintf(w, `, "cache_write": %s`, c)
	}
	if c := perMillion(cacheWrite1h); c != "" && c != "0" {
		// The list has 1-hour prices below the input price or many times the provider's
		// published 2×; such a figure is left out so that the gateway's 2× applies.
		i, _ := strconv.ParseFloat(perMillion(in), 64)
		if v, _ := strconv.ParseFloat(c, 64); v < i || v > 3*i {
			log.Printf("%s: 1-hour cache write price %s is implausible beside input %s; left out", name, c, perMillion(in))
		} else {
			fmt.Fprintf(w, `, "cache_write_1h": %s`, c)
		}
	}
	if c := perMillion(cacheRead); c != "" && c != "0" {
		fmt.Fprintf(w, `, "cache_read": %s`, c)
	}
}

// perMillion converts a price per token to a price per 1M tokens, exactly.
func perMillion(n json.Number) string {
	if n == "" {
		return ""
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		log.Fatalf("bad price %q", n)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
