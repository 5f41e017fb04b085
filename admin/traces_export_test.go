package admin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

// An export larger than a page comes whole, newest first, each trace once,
// filtered like a trace listing; a limit or cursor is refused.
func TestExportTracesStreamsEveryMatch(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const n = 2500 // two and a half pages of the store's export
	batch := make([]*store.Trace, 0, n)
	for i := range n {
		status := 200
		if i%10 == 0 {
			status = 502
		}
		batch = append(batch, &store.Trace{RequestID: fmt.Sprintf("r%06d", i), Time: base.Add(time.Duration(i) * time.Second),
			Provider: "openai", Model: "gpt-4o", Status: status, PromptTokens: int64(i), Attempts: []store.Attempt{}})
	}
	if err := e.st.WriteTraces(batch); err != nil {
		t.Fatal(err)
	}
	var got []admin.Trace
	count, err := e.client.ExportTraces(context.Background(), admin.TraceQuery{}, func(tr admin.Trace) error {
		got = append(got, tr)
		return nil
	})
	if err != nil || count != n || len(got) != n {
		t.Fatalf("exported %d (%d) traces, %v; want %d", count, len(got), err, n)
	}
	for i, tr := range got {
		if want := fmt.Sprintf("r%06d", n-1-i); tr.RequestID != want || tr.PromptTokens != int64(n-1-i) {
			t.Fatalf("trace %d is %s (%d prompt tokens), want %s", i, tr.RequestID, tr.PromptTokens, want)
		}
	}

	// since/until and the status class, as for GET /api/v1/traces.
	q := admin.TraceQuery{Status: "5xx", Since: base.Add(1000 * time.Second).Format(time.RFC3339), Until: base.Add(2000 * time.Second).Format(time.RFC3339)}
	var ids []string
	if _, err := e.client.ExportTraces(context.Background(), q, func(tr admin.Trace) error {
		if tr.Status != 502 {
			t.Errorf("%s has status %d", tr.RequestID, tr.Status)
		}
		ids = append(ids, tr.RequestID)
		return nil
	}); err != nil || len(ids) != 100 || ids[0] != "r001990" || ids[99] != "r001000" {
		t.Fatalf("filtered export: %d traces (%v … %v), %v", len(ids), first(ids), last(ids), err)
	}

	// The caller can stop it; its error comes back.
	stop := errors.New("enough")
	seen := 0
	if _, err := e.client.ExportTraces(context.Background(), admin.TraceQuery{}, func(admin.Trace) error {
		if seen++; seen == 10 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || seen != 10 {
		t.Fatalf("stopped export: %v after %d", err, seen)
	}

	for _, path := range []string{"/api/v1/traces/export?limit=5", "/api/v1/traces/export?cursor=r000100", "/api/v1/traces/export?status=abc"} {
		if r := e.do("GET", path, e.adminToken, ""); r.status != 400 {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
