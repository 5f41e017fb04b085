package admin

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// Every wire type carries exactly what the server sends (or reads): a
// record with every field set is encoded as the server encodes it, decoded
// into the wire type with unknown fields refused, and encoded again — the
// two encodings must be the same JSON. A field added on one side only
// fails here.
func TestWireTypesMatchTheServer(t *testing.T) {
	pairs := []struct {
		name       string
		sent, into any // sent: what one side encodes; into: a pointer to what the other decodes
	}{
		{"Provider", &providerOut{}, &Provider{}},
		{"ProviderPatch (client → server)", &ProviderPatch{}, &store.ProviderPatch{}},
		{"Credential", &credentialOut{Health: &scheduler.Status{}}, &Credential{}},
		{"CredentialInput (client → server)", &CredentialInput{}, &store.CredentialInput{}},
		{"CredentialPatch (client → server)", &CredentialPatch{}, &store.CredentialPatch{}},
		{"Key", &keyOut{}, &Key{}},
		{"KeyInput (client → server)", &KeyInput{}, &store.KeyInput{}},
		{"KeyPatch (client → server)", &KeyPatch{}, &store.KeyPatch{}},
		{"CreatedKey", &createdKeyOut{}, &CreatedKey{}},
		{"Trace", &store.Trace{}, &Trace{}},
		{"TracePage", &tracePageOut{}, &TracePage{}},
		{"KeyPage", &keyPageOut{}, &KeyPage{}},
		{"CredentialPage", &credentialPageOut{}, &CredentialPage{}},
		{"UsageRow", &store.UsageRow{}, &UsageRow{}},
		{"Alert", &store.Alert{}, &Alert{}},
		{"AdminToken", &store.AdminToken{}, &AdminToken{}},
		{"CreatedToken", &createdTokenOut{}, &CreatedToken{}},
	}
	for _, p := range pairs {
		v := reflect.ValueOf(p.sent).Elem()
		fill(v, 1)
		sent, err := json.Marshal(p.sent)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(sent))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p.into); err != nil {
			t.Errorf("%s: the receiving side lacks a field the sender has: %v\n%s", p.name, err, sent)
			continue
		}
		again, err := json.Marshal(p.into)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if !jsonEqual(t, sent, again) {
			t.Errorf("%s: a field is lost or changed on the way:\nsent     %s\nreceived %s", p.name, sent, again)
		}
		// And the other way: everything the receiver has, the sender has.
		into := reflect.New(reflect.TypeOf(p.into).Elem())
		fill(into.Elem(), 1)
		back, _ := json.Marshal(into.Interface())
		dec = json.NewDecoder(bytes.NewReader(back))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(v.Type()).Interface()); err != nil {
			t.Errorf("%s: the sender lacks a field the receiver has: %v", p.name, err)
		}
	}
}

// fill sets every exported, encoded field of v to a value that is not the
// zero value (slices and maps get one element), so that omitempty fields
// are encoded too.
func fill(v reflect.Value, n int) {
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(time.Date(2026, 12, 2, 10, 0, n, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		fill(e.Elem(), n)
		v.Set(e)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), n)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			fill(v.Field(i), n+i)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// The CLI and the TUI talk to the gateway only through the admin API: no
// package under tui/ or cmd/ imports the store (cmd/aigw assembles the
// gateway through the gateway package).
func TestClientsDoNotImportTheStore(t *testing.T) {
	var files []string
	for _, dir := range []string{"../tui", "../cmd/aigw"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(m) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/aigw/aigw/store" {
				t.Errorf("%s imports the store; use the admin package's wire types", f)
			}
		}
	}
}
