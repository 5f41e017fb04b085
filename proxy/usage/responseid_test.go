package usage

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestResponseIDReadsTheFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format Format
		want   string
	}{
		{"openai_responses.json", FormatJSON, "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41"},
		{"openai_responses_stream.sse", FormatSSE, "resp_68a1"},
	} {
		body, err := os.ReadFile("testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		id, st := ResponseID(body, tc.format)
		if st != IDFound || string(id) != tc.want {
			t.Fatalf("%s: %q %v, want %q found", tc.file, id, st, tc.want)
		}
		// Found from the first bytes alone: where the id ends.
		end := bytes.Index(body, []byte(tc.want)) + len(tc.want) + 1
		if id, st := ResponseID(body[:end], tc.format); st != IDFound || string(id) != tc.want {
			t.Fatalf("%s: the first %d bytes give %q %v", tc.file, end, id, st)
		}
		if _, st := ResponseID(body[:end-2], tc.format); st != IDMore {
			t.Fatalf("%s: an id cut short gives %v, want more", tc.file, st)
		}
	}
}

func TestResponseIDTable(t *testing.T) {
	long := strings.Repeat("a", MaxResponseID+1)
	for _, tc := range []struct {
		name, in string
		format   Format
		want     string
		st       IDScan
	}{
		{"json id first", `{"id":"resp_1","object":"response"}`, FormatJSON, "resp_1", IDFound},
		{"json id after other members", `{"object":"response","output":[{"id":"msg_1"}],"meta":{"id":"x"},"id":"resp_2"}`, FormatJSON, "resp_2", IDFound},
		{"json spaces", " \n{ \"id\" : \"resp_3\" }", FormatJSON, "resp_3", IDFound},
		{"json escaped key", `{"i\u0064":"resp_4"}`, FormatJSON, "resp_4", IDFound},
		{"json id in a string is not a member", `{"instructions":"{\"id\":\"resp_forged\"}","id":"resp_5"}`, FormatJSON, "resp_5", IDFound},
		{"json no id", `{"object":"response"}`, FormatJSON, "", IDAbsent},
		{"json id not a string", `{"id":5}`, FormatJSON, "", IDAbsent},
		{"json id with escape", `{"id":"resp\u005f6"}`, FormatJSON, "", IDAbsent},
		{"json id with a space", `{"id":"resp 7"}`, FormatJSON, "", IDAbsent},
		{"json id too long", `{"id":"` + long + `"}`, FormatJSON, "", IDAbsent},
		{"json id too long, cut", `{"id":"` + long, FormatJSON, "", IDAbsent},
		{"json empty id", `{"id":""}`, FormatJSON, "", IDAbsent},
		{"json array", `[{"id":"resp_8"}]`, FormatJSON, "", IDAbsent},
		{"json not json", `<html>`, FormatJSON, "", IDAbsent},
		{"json malformed", `{"a" "id":"resp_9"}`, FormatJSON, "", IDAbsent},
		{"json empty", ``, FormatJSON, "", IDMore},
		{"json cut in key", `{"object":"response","i`, FormatJSON, "", IDMore},
		{"json cut in value", `{"object":"resp`, FormatJSON, "", IDMore},
		{"json cut in id", `{"id":"resp_1`, FormatJSON, "", IDMore},
		{"sse created", "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_a\"}}\n\n", FormatSSE, "resp_a", IDFound},
		{"sse crlf, no space", "event: response.created\r\ndata:{\"response\":{\"id\":\"resp_b\"}}\r\n\r\n", FormatSSE, "resp_b", IDFound},
		{"sse comment and other events first", ": ping\n\ndata: {\"type\":\"x\"}\n\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_c\"}}\n\n", FormatSSE, "resp_c", IDFound},
		{"sse top-level id is not the response's", "data: {\"id\":\"resp_top\",\"response\":{\"id\":\"resp_d\"}}\n\n", FormatSSE, "resp_d", IDFound},
		{"sse response without id", "data: {\"response\":{\"object\":\"response\"}}\n\n", FormatSSE, "", IDMore},
		{"sse cut in the data line", "event: response.created\ndata: {\"response\":{\"id\":\"re", FormatSSE, "", IDMore},
		{"sse cut in the event line", "event: respo", FormatSSE, "", IDMore},
		{"sse no data", "event: x\n\n", FormatSSE, "", IDMore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, st := ResponseID([]byte(tc.in), tc.format)
			if st != tc.st || string(id) != tc.want {
				t.Fatalf("got %q %v, want %q %v", id, st, tc.want, tc.st)
			}
		})
	}
}

func TestPreviousResponseID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"model":"gpt-5","previous_response_id":"resp_1","input":"hi"}`, "resp_1"},
		{`{"input":[{"role":"user","content":"previous_response_id"}],"previous_response_id":"resp_2"}`, "resp_2"},
		{`{"previous_response_id":"resp_a","previous_response_id":"resp_b"}`, "resp_b"},
		{`{"previous_\u0072esponse_id":"resp_3"}`, "resp_3"},
		{`{"previous_response_id":null}`, ""},
		{`{"previous_response_id":5}`, ""},
		{`{"meta":{"previous_response_id":"resp_nested"}}`, ""},
		{`{"model":"gpt-5"}`, ""},
		{`not json previous_response_id`, ""},
		{``, ""},
	} {
		if got := PreviousResponseID([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A decision made on a prefix stands: a longer prefix never finds another
// id, and never turns a decision back into IDMore.
func checkPrefixes(t *testing.T, body []byte, f Format) {
	id, st := ResponseID(body, f)
	if st == IDFound && (!ValidResponseID(id) || !bytes.Contains(body, id)) {
		t.Fatalf("found %q, not a valid id from the input", id)
	}
	if f == FormatSSE && st == IDAbsent {
		t.Fatal("a stream decided absent")
	}
	for n := range len(body) {
		pid, pst := ResponseID(body[:n], f)
		switch {
		case pst == IDMore:
		case pst != st:
			t.Fatalf("the first %d bytes give %v, the whole %v", n, pst, st)
		case string(pid) != string(id):
			t.Fatalf("the first %d bytes give %q, the whole %q", n, pid, id)
		}
	}
}

func FuzzResponseID(f *testing.F) {
	for _, name := range []string{"openai_responses.json", "openai_responses_stream.sse", "openai_chat.json", "openai_chat_stream.sse"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2048)], strings.HasSuffix(name, ".sse"))
	}
	f.Add([]byte(`{"object":"response","id":"resp_1"}`), false)
	f.Add([]byte("data: {\"response\":{\"id\":\"resp_x\"}}\r\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, sse bool) {
		if len(body) > 4096 {
			body = body[:4096] // checkPrefixes is quadratic
		}
		f := FormatJSON
		if sse {
			f = FormatSSE
		}
		checkPrefixes(t, body, f)
	})
}

func FuzzPreviousResponseID(f *testing.F) {
	f.Add([]byte(`{"previous_response_id":"resp_1"}`))
	f.Add([]byte(`{"previous_response_id":"resp_3","x":[1,{"y":"}"}],"previous_\u0072esponse_id":"resp_4"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id := PreviousResponseID(body)
		if id != nil && !bytes.Contains(body, id) {
			t.Fatalf("%q is not from the body", id)
		}
	})
}

func BenchmarkResponseID(b *testing.B) {
	body, err := os.ReadFile("testdata/openai_responses_stream.sse")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, st := ResponseID(body[:1024], FormatSSE); st != IDFound {
			b.Fatal(st)
		}
	}
}

// A Codex-sized request (about 200 KB of input items): with
// previous_response_id after the input, and without it.
func BenchmarkPreviousResponseID(b *testing.B) {
	var items []string
	for i := range 400 {
		items = append(items, `{"type":"message","role":"user","content":[{"type":"input_text","text":"step `+strings.Repeat("lorem ipsum dolor sit amet ", 18)+`"}]}`)
		_ = i
	}
	with := []byte(`{"model":"gpt-5","instructions":"You are a coding agent.","input":[` + strings.Join(items, ",") + `],"previous_response_id":"resp_68a1","stream":true}`)
	without := bytes.Replace(with, []byte(`"previous_response_id":"resp_68a1",`), nil, 1)
	for _, bc := range []struct {
		name string
		body []byte
		want string
	}{{"with", with, "resp_68a1"}, {"without", without, ""}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if got := PreviousResponseID(bc.body); string(got) != bc.want {
					b.Fatalf("%q", got)
				}
			}
		})
	}
}
