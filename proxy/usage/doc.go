// Package usage reads token usage and the model from upstream responses while they stream
// through the gateway, and prices them.
//
// Everything here is pure: no I/O, no goroutines, no mutable global state. It runs on the hot
// path, so nothing decodes whole bodies: a [Scanner] walks the bytes once with a small state
// machine (json.go) that parses exactly only the few objects that can hold usage and skips
// everything else by bracket counting, a whole token and eight or sixteen bytes at a time
// where it can. An SSE event that cannot hold usage is stepped over without being parsed at
// all, together with every such event that follows it in the same input; and in a stream
// that repeats its cumulative usage on every chunk (Gemini), only the last event of an input
// that holds usage needs reading when its usage is complete. Memory is fixed whatever the
// response size (only [Scanner.Filter] holds one SSE event, at most [MaxEventBytes]), and
// scanning allocates nothing.
//
// One request, as the proxy uses it:
//
//	api := usage.Detect(provider.Type, upstreamPath)
//	body, injected := body, false
//	if api == usage.OpenAIChat || api == usage.OpenAICompletions {
//		body, injected = usage.PrepareOpenAIStream(buf[:0], body) // ask for usage in streams
//	}
//	// … forward, then for the response:
//	sc := scannerPool.Get().(*usage.Scanner)
//	defer scannerPool.Put(sc)
//	sc.Reset(api, usage.FormatOf(resp.Header.ContentType(), api))
//	sc.StripInjectedUsage(injected)
//	for each chunk {
//		out = sc.Filter(out[:0], chunk) // the bytes for the client (chunk itself unless stripping)
//		write out, flush
//	}
//	write sc.Flush(out[:0])
//	u := sc.Usage()
//	if u.Model == "" {
//		u.Model = usage.RequestModel(reqBody) // or usage.ModelFromPath for Gemini
//	}
//	usd, known := prices.Cost(u) // trace: usage_source = u.Source, cost_known = known
//
// Ownership: Write and Filter never keep the slice they are given; what Filter returns aliases
// dst or its input and is valid until the next call. A Usage holds only its own strings.
package usage
