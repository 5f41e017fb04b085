package proxy

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy/usage"
)

func TestPinTableForgetsTheLeastRecentlyUsedBeyondItsCap(t *testing.T) {
	tb := newPinTable(3, time.Hour)
	if len(tb.shards) != 1 {
		t.Fatalf("a table of 3 has %d shards, want 1 (exactly LRU)", len(tb.shards))
	}
	for i, c := range []string{"a", "b", "c"} {
		tb.remember(uint64(i+1), c, 0)
	}
	if got := tb.lookup(1, 1); got != "a" { // 1 is now the most recent; 2 the least
		t.Fatalf("lookup(1) = %q", got)
	}
	tb.remember(4, "d", 2)
	want := map[uint64]string{1: "a", 2: "", 3: "c", 4: "d"}
	for k, c := range want {
		if got := tb.lookup(k, 3); got != c {
			t.Errorf("lookup(%d) = %q, want %q", k, got, c)
		}
	}
	tb.remember(3, "c2", 4) // an update moves it to the front and replaces the credential
	tb.remember(5, "e", 5)
	tb.remember(6, "f", 6)
	if tb.lookup(3, 7) != "c2" || tb.lookup(1, 7) != "" || tb.lookup(4, 7) != "" || tb.len() != 3 {
		t.Fatalf("after updates: 3→%q 1→%q 4→%q, %d entries", tb.lookup(3, 7), tb.lookup(1, 7), tb.lookup(4, 7), tb.len())
	}
}

func TestPinTableEntriesExpire(t *testing.T) {
	ttl := time.Minute
	tb := newPinTable(10, ttl)
	tb.remember(1, "a", 0)
	if tb.lookup(1, int64(ttl)-1) != "a" {
		t.Fatal("forgotten before its TTL")
	}
	if tb.lookup(1, int64(ttl)) != "" || tb.len() != 0 {
		t.Fatal("remembered at its TTL")
	}
	// The expired entry's slot is reused, not grown past.
	tb.remember(2, "b", int64(ttl))
	if n := len(tb.shards[0].slots); n != 1 {
		t.Fatalf("%d slots for one live entry", n)
	}
}

func TestPinTableStaysWithinItsCapWhenSharded(t *testing.T) {
	const size = 100_000
	tb := newPinTable(size, time.Hour)
	if len(tb.shards) != 64 {
		t.Fatalf("%d shards, want 64", len(tb.shards))
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 3*size)
	for i := range keys {
		keys[i] = r.Uint64()
		tb.remember(keys[i], "c", 0)
	}
	n, slots := tb.len(), 0
	for i := range tb.shards {
		slots += cap(tb.shards[i].slots)
	}
	if n > size+len(tb.shards) || n < size*99/100 || slots > size+len(tb.shards) {
		t.Fatalf("%d entries in %d slots after %d distinct ids, want about %d in as many", n, slots, len(keys), size)
	}
	recent := 0
	for _, k := range keys[len(keys)-size/2:] {
		if tb.lookup(k, 1) != "" {
			recent++
		}
	}
	if recent < size/2*99/100 {
		t.Fatalf("only %d of the newest %d ids remembered", recent, size/2)
	}
}

func TestPinTableIsSafeForConcurrentUse(t *testing.T) {
	tb := newPinTable(4096, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := uint64(g*1_000_000 + i%3000)
				tb.remember(k, "c"+strconv.Itoa(g), int64(i))
				if c := tb.lookup(k, int64(i)); c != "" && c != "c"+strconv.Itoa(g) {
					t.Errorf("key of goroutine %d holds %q", g, c)
					return
				}
			}
		}()
	}
	wg.Wait()
	if tb.len() > 4096 {
		t.Fatalf("%d entries in a table of 4096", tb.len())
	}
}

// watcher is an exchange reading a Responses answer of format f, with a
// table of its own.
func watcher(f usage.Format) *exchange {
	return &exchange{
		p:      &Proxy{pins: newPinTable(16, time.Hour)},
		prov:   &provider{name: "openai"},
		cred:   &credential{id: "cred-1"},
		start:  time.Unix(0, 0),
		format: f, pinWatch: true,
	}
}

// feed passes body to x in the pieces cuts makes (sorted offsets), then
// returns the credential remembered for id.
func feed(x *exchange, body []byte, cuts []int) {
	prev := 0
	for i, c := range append(cuts, len(body)) {
		if !x.pinWatch {
			break
		}
		x.noteResponse(body[prev:c], i == len(cuts))
		if len(x.pinBuf) > maxIDPrefix {
			panic("pinBuf over maxIDPrefix")
		}
		prev = c
	}
}

// However the answer is cut into reads, the id remembered is the one the
// whole answer holds, or none when it was cut into more reads than are
// looked at; never another.
func TestNoteResponseDoesNotDependOnHowTheAnswerIsCut(t *testing.T) {
	for _, tc := range []struct {
		file string
		f    usage.Format
		id   string
	}{
		{"usage/testdata/openai_responses.json", usage.FormatJSON, "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41"},
		{"usage/testdata/openai_responses_stream.sse", usage.FormatSSE, "resp_68a1"},
	} {
		body, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		key := pinKey("openai", []byte(tc.id))
		r := rand.New(rand.NewPCG(3, 4))
		for round := range 300 {
			var cuts []int
			switch {
			case round == 0: // whole
			case round == 1: // byte by byte
				for i := 1; i < len(body); i++ {
					cuts = append(cuts, i)
				}
			default:
				n := 1 + r.IntN(maxIDReads-1)
				for range n {
					cuts = append(cuts, r.IntN(len(body)+1))
				}
				sortInts(cuts)
			}
			x := watcher(tc.f)
			feed(x, body, cuts)
			got := x.p.pins.lookup(key, 1)
			if x.p.pins.len() > 1 || (got != "" && got != "cred-1") {
				t.Fatalf("%s, cuts %v: %d entries, %q", tc.file, cuts, x.p.pins.len(), got)
			}
			if got == "" && len(cuts) < maxIDReads {
				t.Fatalf("%s cut into %d reads: id not remembered", tc.file, len(cuts)+1)
			}
			if x.pinWatch {
				t.Fatalf("%s, cuts %v: still watching after the last read", tc.file, cuts)
			}
		}
	}
}

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func FuzzNoteResponse(f *testing.F) {
	for _, name := range []string{"usage/testdata/openai_responses.json", "usage/testdata/openai_responses_stream.sse"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 1500)], true, uint64(7))
	}
	f.Fuzz(func(t *testing.T, body []byte, sse bool, seed uint64) {
		fm := usage.FormatJSON
		if sse {
			fm = usage.FormatSSE
		}
		whole := watcher(fm)
		feed(whole, body, nil)
		r := rand.New(rand.NewPCG(seed, seed))
		var cuts []int
		for range r.IntN(maxIDReads) {
			cuts = append(cuts, r.IntN(len(body)+1))
		}
		sortInts(cuts)
		cut := watcher(fm)
		feed(cut, body, cuts)
		if whole.p.pins.len() > 1 || cut.p.pins.len() > 1 {
			t.Fatal("more than one id remembered from one answer")
		}
		// An id remembered from the pieces is the whole answer's, when the
		// whole holds its id within maxIDPrefix.
		if id, st := usage.ResponseID(body[:min(len(body), maxIDPrefix)], fm); st == usage.IDFound {
			if cut.p.pins.lookup(pinKey("openai", id), 1) == "" || whole.p.pins.lookup(pinKey("openai", id), 1) == "" {
				t.Fatalf("id %q of the answer not remembered (cuts %v)", id, cuts)
			}
		} else if cut.p.pins.len() != 0 {
			t.Fatalf("an id remembered from an answer whose first %d bytes hold none", maxIDPrefix)
		}
	})
}

// What pinning adds to a request of another API: one search of its path.
func BenchmarkPinnedOnAChatPath(b *testing.B) {
	path := []byte("/v1/chat/completions")
	for b.Loop() {
		if _, ok := responsesTail(path); ok {
			b.Fatal("a chat path has a responses segment")
		}
	}
}

// The table under parallel use: a lookup and a remember per op, over
// 200,000 ids in a table of 100,000.
func BenchmarkPinTable(b *testing.B) {
	tb := newPinTable(DefaultResponsePins, time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			k := r.Uint64N(200_000) * 0x9E3779B97F4A7C15
			if tb.lookup(k, 1) == "" {
				tb.remember(k, "cred", 1)
			}
		}
	})
}
