package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
)

// A user exports traces and usage to a spreadsheet: CSV with a header of
// every field, RFC 4180 quoting, formula-looking text defused; or JSON
// lines equal to what `traces -o json` prints.
func TestExportsFromTheCLI(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	// A model name chosen by a client: a formula, with a comma and a quote.
	const evil = `=HYPERLINK("http://x.invalid/?a,b","click")`
	for _, model := range []string{"gpt-4o-mini", evil, "gpt-4o"} {
		body, _ := json.Marshal(map[string]any{"model": model, "messages": []any{}})
		if r := post(t, url, "Bearer "+secret, string(body)); r.status != 200 {
			t.Fatal(r.status, r.body)
		}
	}
	fake.Program(proxytest.Rule{Status: 503})
	post(t, url, "Bearer "+secret, `{"model":"gpt-4o","messages":[]}`)
	listed := waitTraces(t, g, 4)
	if len(listed) != 4 {
		t.Fatalf("%d traces, want 4", len(listed))
	}

	// CSV: a header naming every field of `traces -o json`, a row per trace.
	recs := readCSV(t, g.ok(t, "traces", "export"))
	head := recs[0]
	for field := range listed[0] {
		if !slices.Contains(head, field) {
			t.Errorf("the CSV header lacks %q: %v", field, head)
		}
	}
	if len(recs) != 5 {
		t.Fatalf("%d CSV records, want a header and 4 rows", len(recs))
	}
	col := func(name string) int { return slices.Index(head, name) }
	for i, tr := range listed { // newest first, as listed
		row := recs[i+1]
		if row[col("request_id")] != tr["request_id"] || row[col("cost_usd")] != jsonNumber(t, tr["cost_usd"]) {
			t.Errorf("row %d: %v; want %v", i, row, tr)
		}
	}
	evilRow := recs[3]
	if got := evilRow[col("model")]; got != "'"+evil {
		t.Errorf("model cell %q: a spreadsheet would run it as a formula", got)
	}
	if got := evilRow[col("cost_known")]; got != "false" {
		t.Errorf("an unpriced model's cost_known cell is %q", got)
	}
	if recs[1][col("status")] != "503" || !strings.HasPrefix(recs[1][col("attempts")], `[{"credential_id":`) {
		t.Errorf("the failed request's row: %v", recs[1])
	}

	// JSON lines: one trace per line, the same objects `traces -o json` lists.
	lines := strings.Split(strings.TrimSuffix(g.ok(t, "traces", "export", "--format", "jsonl"), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines, want 4", len(lines))
	}
	for i, l := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil || !reflect.DeepEqual(got, listed[i]) {
			t.Errorf("line %d: %v\n got %v\nwant %v", i, err, got, listed[i])
		}
	}

	// On a terminal, stderr shows progress; piped (above), nothing.
	var out, errb bytes.Buffer
	vars := map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}
	if code := run([]string{"traces", "export"}, &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, errTTY: true,
		getenv: func(k string) string { return vars[k] }}); code != 0 || !strings.HasSuffix(errb.String(), "\r4 traces exported\n") {
		t.Errorf("progress on a terminal: exit %d, stderr %q", code, errb.String())
	}
	if r := g.cli(t, "", nil, "traces", "export"); r.stderr != "" {
		t.Errorf("progress written to a stderr that is not a terminal: %q", r.stderr)
	}

	// The filters of `aigw traces` apply.
	if recs := readCSV(t, g.ok(t, "traces", "export", "--status", "5xx")); len(recs) != 2 || recs[1][col("status")] != "503" {
		t.Errorf("--status 5xx: %v", recs)
	}
	if recs := readCSV(t, g.ok(t, "traces", "export", "--model", "nobody")); len(recs) != 1 || !slices.Equal(recs[0], head) {
		t.Errorf("an empty export is its header alone: %v", recs)
	}

	// Usage: the rows of `usage -o json`, every field a column.
	var rows []map[string]any
	g.okJSON(t, &rows, "usage", "--by", "model")
	urecs := readCSV(t, g.ok(t, "usage", "export", "--by", "model"))
	if len(urecs) != len(rows)+1 {
		t.Fatalf("usage export: %d records for %d rows", len(urecs), len(rows))
	}
	for field := range rows[0] {
		if !slices.Contains(urecs[0], field) {
			t.Errorf("the usage CSV header lacks %q: %v", field, urecs[0])
		}
	}
	ucol := func(name string) int { return slices.Index(urecs[0], name) }
	for i, r := range rows {
		got := urecs[i+1]
		if got[ucol("requests")] != jsonNumber(t, r["requests"]) || got[ucol("cost_usd")] != jsonNumber(t, r["cost_usd"]) {
			t.Errorf("usage row %d: %v; want %v", i, got, r)
		}
		if r["group"] == evil && got[ucol("group")] != "'"+evil {
			t.Errorf("usage group cell %q is a formula", got[ucol("group")])
		}
	}
	var ulines []admin.UsageRow
	for _, l := range strings.Split(strings.TrimSpace(g.ok(t, "usage", "export", "--by", "day", "--format", "jsonl")), "\n") {
		var r admin.UsageRow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("usage jsonl line %q: %v", l, err)
		}
		ulines = append(ulines, r)
	}
	if len(ulines) != 1 || ulines[0].Requests != 4 || ulines[0].Errors != 1 || ulines[0].CostUnknown != 1 {
		t.Errorf("usage by day: %+v", ulines)
	}

	// Bad values: exit 2, one line naming the flag, nothing on stdout.
	for _, args := range [][]string{
		{"traces", "export", "--format", "xlsx"},
		{"usage", "export", "--format", "xml"},
		{"usage", "export", "--by", "color"},
		{"traces", "export", "--since", "yesterday"},
		{"traces", "export", "--status", "abc"},
	} {
		r := g.cli(t, "", nil, args...)
		if r.code != exitUsage || r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
			!strings.Contains(r.stderr, "--"+args[2]) && !strings.Contains(r.stderr, args[2]) {
			t.Errorf("aigw %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(s))
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("not CSV with a header (%v):\n%s", err, s)
	}
	return recs
}

// jsonNumber is how the CSV writes a number that JSON decoded as v.
func jsonNumber(t *testing.T, v any) string {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Cells a spreadsheet would take for a formula get a leading quote; other
// text, numbers (negative ones too) are left alone.
func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"gpt-4o":            "gpt-4o",
		"=1+1":              "'=1+1",
		"+1":                "'+1",
		"-1":                "'-1",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"\r=x":              "'\r=x",
		"a=b":               "a=b",
		"upstream said 503": "upstream said 503",
	} {
		if got := safeCell(in); got != want {
			t.Errorf("safeCell(%q) = %q, want %q", in, got, want)
		}
	}
	// Numbers are not text: bytes_out -1 stays -1.
	if got := csvCell(reflect.ValueOf(int64(-1))); got != "-1" {
		t.Errorf("csvCell(-1) = %q", got)
	}
}
