package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/internal/units"
)

func TestCreateProviderDefaultsPerType(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		typ     string
		auth    []string
		headers []string
	}{
		{TypeOpenAI, []string{"Authorization: Bearer {key}"}, nil},
		{TypeAnthropic, []string{"x-api-key: {key}"}, []string{"anthropic-version: 2023-06-01"}},
		{TypeGemini, []string{"x-goog-api-key: {key}"}, nil},
		{TypeOpenAICompatible, []string{"Authorization: Bearer {key}"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			name := "p-" + tt.typ
			p, err := s.CreateProvider(Provider{Name: name, Type: tt.typ, BaseURL: "https://api.example.com/v1/"})
			if err != nil {
				t.Fatal(err)
			}
			if p.BaseURL != "https://api.example.com/v1" {
				t.Errorf("base_url = %q; want the trailing slash trimmed", p.BaseURL)
			}
			if !slices.Equal(p.AuthHeaders, tt.auth) {
				t.Errorf("auth_headers = %q; want %q", p.AuthHeaders, tt.auth)
			}
			if !slices.Equal(p.Headers, tt.headers) {
				t.Errorf("headers = %q; want %q", p.Headers, tt.headers)
			}
			if p.CreatedAt.IsZero() || !p.UpdatedAt.Equal(p.CreatedAt) {
				t.Errorf("created_at %v, updated_at %v; want both set to the creation time", p.CreatedAt, p.UpdatedAt)
			}
			got, err := s.Provider(name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("Provider(%q) = %+v; want what CreateProvider returned %+v", name, got, p)
			}
		})
	}
	list, err := s.Providers()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	want := []string{"p-anthropic", "p-gemini", "p-openai", "p-openai-compatible"}
	if !slices.Equal(names, want) {
		t.Errorf("Providers() = %q; want %q (by name)", names, want)
	}
}

func TestCreateProviderKeepsGivenHeaders(t *testing.T) {
	s := openTest(t)
	ca := testkit.WriteCA(t)
	p, err := s.CreateProvider(Provider{
		Name: "azure", Type: TypeOpenAICompatible, BaseURL: "https://x.openai.azure.com//",
		AuthHeaders: []string{"api-key: {key}"},
		Headers:     []string{"X-Team: blue"},
		Timeout:     units.Duration(90 * time.Second),
		CAFile:      ca,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.BaseURL != "https://x.openai.azure.com" || !slices.Equal(p.AuthHeaders, []string{"api-key: {key}"}) ||
		!slices.Equal(p.Headers, []string{"X-Team: blue"}) || p.Timeout != units.Duration(90*time.Second) || p.CAFile != ca {
		t.Errorf("provider = %+v; want the given headers, timeout and CA kept", p)
	}
	// An explicitly empty header list means "no extra headers", not "defaults".
	p, err = s.CreateProvider(Provider{Name: "bare", Type: TypeAnthropic, BaseURL: "http://127.0.0.1:8081", Headers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Headers) != 0 {
		t.Errorf("headers = %q; want none", p.Headers)
	}
}

func TestCreateProviderRefusesBadInput(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateProvider(Provider{Name: "existing", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Providers()
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		change func(p *Provider)
		field  string
	}{
		{"unknown type", func(p *Provider) { p.Type = "azure" }, "type"},
		{"empty type", func(p *Provider) { p.Type = "" }, "type"},
		{"ftp base url", func(p *Provider) { p.BaseURL = "ftp://api.openai.com" }, "base_url"},
		{"base url without scheme", func(p *Provider) { p.BaseURL = "api.openai.com" }, "base_url"},
		{"empty base url", func(p *Provider) { p.BaseURL = "" }, "base_url"},
		{"base url with query", func(p *Provider) { p.BaseURL = "https://api.openai.com/v1?key=x" }, "base_url"},
		{"base url with fragment", func(p *Provider) { p.BaseURL = "https://api.openai.com/v1#x" }, "base_url"},
		{"base url with user info", func(p *Provider) { p.BaseURL = "https://me:pw@api.openai.com" }, "base_url"},
		{"base url without host", func(p *Provider) { p.BaseURL = "https://" }, "base_url"},
		{"uppercase name", func(p *Provider) { p.Name = "OpenAI" }, "name"},
		{"name with slash", func(p *Provider) { p.Name = "open/ai" }, "name"},
		{"name with space", func(p *Provider) { p.Name = "open ai" }, "name"},
		{"name starting with dash", func(p *Provider) { p.Name = "-openai" }, "name"},
		{"empty name", func(p *Provider) { p.Name = "" }, "name"},
		{"name too long", func(p *Provider) { p.Name = strings.Repeat("a", 65) }, "name"},
		{"auth header without {key}", func(p *Provider) { p.AuthHeaders = []string{"Authorization: Bearer sk-fixed"} }, "auth_headers"},
		{"auth header without colon", func(p *Provider) { p.AuthHeaders = []string{"Authorization Bearer {key}"} }, "auth_headers"},
		{"auth header with invalid name", func(p *Provider) { p.AuthHeaders = []string{"Bad Header: {key}"} }, "auth_headers"},
		{"one bad auth header of two", func(p *Provider) { p.AuthHeaders = []string{"x-api-key: {key}", "(x): {key}"} }, "auth_headers"},
		{"header without colon", func(p *Provider) { p.Headers = []string{"X-Team blue"} }, "headers"},
		{"header without name", func(p *Provider) { p.Headers = []string{": blue"} }, "headers"},
		{"header with invalid name", func(p *Provider) { p.Headers = []string{"X Team: blue"} }, "headers"},
		{"header with control character", func(p *Provider) { p.Headers = []string{"X-Team: bl\x00ue"} }, "headers"},
		{"negative timeout", func(p *Provider) { p.Timeout = units.Duration(-time.Second) }, "timeout"},
		{"timeout over a day", func(p *Provider) { p.Timeout = units.Duration(25 * time.Hour) }, "timeout"},
		{"missing CA file", func(p *Provider) { p.CAFile = filepath.Join(t.TempDir(), "missing.pem") }, "ca_file"},
		{"CA file without PEM", func(p *Provider) { p.CAFile = notPEM }, "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Provider{Name: "good", Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1"}
			tt.change(&p)
			_, err := s.CreateProvider(p)
			wantField(t, err, tt.field)
			after, err := s.Providers()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("a refused provider changed the list: %+v", after)
			}
		})
	}
}

func TestCreateProviderDuplicate(t *testing.T) {
	s := openTest(t)
	first, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateProvider(Provider{Name: "openai", Type: TypeGemini, BaseURL: "https://elsewhere.example.com"})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateProvider: %v; want ErrExists", err)
	}
	got, err := s.Provider("openai")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("the duplicate overwrote the provider: %+v", got)
	}
}

// Adding a provider again with the same settings (a set-up script run a
// second time) changes nothing and answers with the stored provider; any
// other setting is refused, naming the stored value.
func TestCreateProviderAgain(t *testing.T) {
	s := openTest(t)
	def := Provider{Name: "claude", Type: TypeAnthropic, BaseURL: "https://api.anthropic.com/", Timeout: units.Duration(time.Minute)}
	first, err := s.CreateProvider(def)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateProvider(def)
	if err != nil {
		t.Fatalf("the same provider added twice: %v", err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("second add answered %+v, want the stored %+v", again, first)
	}
	for _, c := range []struct {
		change func(p *Provider)
		want   string
	}{
		{func(p *Provider) { p.Type = TypeOpenAI }, `"claude": already exists with type anthropic`},
		{func(p *Provider) { p.BaseURL = "https://proxy.example" }, "already exists with base_url https://api.anthropic.com"},
		{func(p *Provider) { p.AuthHeaders = []string{"Authorization: Bearer {key}"} }, `already exists with auth_headers ["x-api-key: {key}"]`},
		{func(p *Provider) { p.Headers = []string{} }, `already exists with headers ["anthropic-version: 2023-06-01"]`},
		{func(p *Provider) { p.Timeout = 0 }, "already exists with timeout 1m0s"},
	} {
		p := def
		c.change(&p)
		_, err := s.CreateProvider(p)
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("add with another setting: %v; want ErrExists naming %q", err, c.want)
		}
	}
	if got, err := s.Provider("claude"); err != nil || !reflect.DeepEqual(got, first) {
		t.Errorf("after the refused adds: %+v, %v; want %+v unchanged", got, err, first)
	}
}

func TestProviderNotFound(t *testing.T) {
	s := openTest(t)
	if _, err := s.Provider("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Provider: %v; want ErrNotFound", err)
	}
	if _, err := s.UpdateProvider("nope", ProviderPatch{BaseURL: ptr("https://x.example.com")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateProvider: %v; want ErrNotFound", err)
	}
	if err := s.DeleteProvider("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteProvider: %v; want ErrNotFound", err)
	}
	if list, _ := s.Providers(); len(list) != 0 {
		t.Errorf("UpdateProvider of a missing name created %+v", list)
	}
}

func TestUpdateProviderPatch(t *testing.T) {
	s, clk := openTestClock(t)
	orig, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1",
		Headers: []string{"X-Team: blue"}, Timeout: units.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)

	p, err := s.UpdateProvider("openai", ProviderPatch{BaseURL: ptr("https://proxy.example.com/openai/")})
	if err != nil {
		t.Fatal(err)
	}
	want := orig
	want.BaseURL = "https://proxy.example.com/openai"
	want.UpdatedAt = orig.CreatedAt.Add(time.Hour)
	if !reflect.DeepEqual(p, want) {
		t.Errorf("after a base_url patch:\n got %+v\nwant %+v", p, want)
	}
	if got, _ := s.Provider("openai"); !reflect.DeepEqual(got, want) {
		t.Errorf("stored after a base_url patch = %+v; want %+v", got, want)
	}

	p, err = s.UpdateProvider("openai", ProviderPatch{Timeout: ptr(units.Duration(0)), Headers: &[]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Timeout != 0 || len(p.Headers) != 0 || p.BaseURL != want.BaseURL {
		t.Errorf("after clearing timeout and headers = %+v", p)
	}

	// An empty auth header list goes back to the type's default.
	if _, err := s.UpdateProvider("openai", ProviderPatch{AuthHeaders: &[]string{"api-key: {key}"}}); err != nil {
		t.Fatal(err)
	}
	p, err = s.UpdateProvider("openai", ProviderPatch{AuthHeaders: &[]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.AuthHeaders, DefaultAuthHeaders(TypeOpenAI)) {
		t.Errorf("auth_headers after an empty patch = %q; want the default", p.AuthHeaders)
	}

	ca := testkit.WriteCA(t)
	if p, err = s.UpdateProvider("openai", ProviderPatch{CAFile: &ca}); err != nil || p.CAFile != ca {
		t.Errorf("ca_file patch = %q, %v; want %q", p.CAFile, err, ca)
	}
}

func TestUpdateProviderTypeChangeFollowsDefaults(t *testing.T) {
	tests := []struct {
		name        string
		from, to    string
		auth, hdrs  []string // given at creation; nil means the defaults
		wantAuth    []string
		wantHeaders []string
	}{
		{"defaults follow the type", TypeOpenAI, TypeAnthropic, nil, nil,
			[]string{"x-api-key: {key}"}, []string{"anthropic-version: 2023-06-01"}},
		{"anthropic version goes away", TypeAnthropic, TypeGemini, nil, nil,
			[]string{"x-goog-api-key: {key}"}, nil},
		{"custom headers stay", TypeOpenAI, TypeAnthropic, []string{"X-Custom-Auth: {key}"}, []string{"X-Team: blue"},
			[]string{"X-Custom-Auth: {key}"}, []string{"X-Team: blue"}},
		{"custom auth stays, default headers follow", TypeAnthropic, TypeOpenAICompatible, []string{"X-Custom-Auth: {key}"}, nil,
			[]string{"X-Custom-Auth: {key}"}, nil},
		{"default auth follows, custom headers stay", TypeGemini, TypeAnthropic, nil, []string{"X-Team: blue"},
			[]string{"x-api-key: {key}"}, []string{"X-Team: blue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			if _, err := s.CreateProvider(Provider{Name: "p", Type: tt.from, BaseURL: "https://api.example.com",
				AuthHeaders: tt.auth, Headers: tt.hdrs}); err != nil {
				t.Fatal(err)
			}
			p, err := s.UpdateProvider("p", ProviderPatch{Type: ptr(tt.to)})
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != tt.to || !slices.Equal(p.AuthHeaders, tt.wantAuth) || !slices.Equal(p.Headers, tt.wantHeaders) {
				t.Errorf("after %s→%s: type %q auth %q headers %q; want auth %q headers %q",
					tt.from, tt.to, p.Type, p.AuthHeaders, p.Headers, tt.wantAuth, tt.wantHeaders)
			}
			if got, _ := s.Provider("p"); !reflect.DeepEqual(got, p) {
				t.Errorf("stored %+v; want %+v", got, p)
			}
		})
	}
}

func TestUpdateProviderRefusesBadPatch(t *testing.T) {
	s := openTest(t)
	orig, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		patch ProviderPatch
		field string
	}{
		{"unknown type", ProviderPatch{Type: ptr("azure")}, "type"},
		{"ftp base url", ProviderPatch{BaseURL: ptr("ftp://x.example.com")}, "base_url"},
		{"auth header without {key}", ProviderPatch{AuthHeaders: &[]string{"Authorization: Bearer x"}}, "auth_headers"},
		{"bad header", ProviderPatch{Headers: &[]string{"nocolon"}}, "headers"},
		{"negative timeout", ProviderPatch{Timeout: ptr(units.Duration(-1))}, "timeout"},
		{"missing CA file", ProviderPatch{CAFile: ptr("/nonexistent/ca.pem")}, "ca_file"},
		{"good base url with bad type", ProviderPatch{BaseURL: ptr("https://new.example.com"), Type: ptr("x")}, "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateProvider("openai", tt.patch)
			wantField(t, err, tt.field)
			if got, _ := s.Provider("openai"); !reflect.DeepEqual(got, orig) {
				t.Errorf("a refused patch changed the provider: %+v", got)
			}
		})
	}
}

func TestDeleteProvider(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}

	// An active key blocks, and the error names it.
	err = s.DeleteProvider("openai")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("DeleteProvider with an active key: %v; want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), k.ID) {
		t.Errorf("error %q does not name key %s", err, k.ID)
	}

	// A revoked key does not block; the credentials still do, and are named.
	if _, err := s.RevokeKey(k.ID); err != nil {
		t.Fatal(err)
	}
	err = s.DeleteProvider("openai")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("DeleteProvider with credentials: %v; want ErrInUse", err)
	}
	for _, id := range []string{f.c1.ID, f.c2.ID} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name credential %s", err, id)
		}
	}
	if strings.Contains(err.Error(), f.c3.ID) {
		t.Errorf("error %q names a credential of another provider", err)
	}
	if _, err := s.Provider("openai"); err != nil {
		t.Errorf("a refused delete removed the provider: %v", err)
	}

	for _, id := range []string{f.c1.ID, f.c2.ID} {
		if err := s.DeleteCredential(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteProvider("openai"); err != nil {
		t.Fatalf("DeleteProvider with only a revoked key: %v", err)
	}
	if _, err := s.Provider("openai"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Provider after delete: %v; want ErrNotFound", err)
	}
	if _, err := s.Key(k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the revoked key of a deleted provider is still there: %v", err)
	}
	checkKeyListing(t, s)
	// The other provider is untouched, and the name is free again.
	if list, _ := s.Providers(); len(list) != 1 || list[0].Name != "anthropic" {
		t.Errorf("providers after delete = %+v; want only anthropic", list)
	}
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Errorf("re-creating a deleted provider: %v", err)
	}
}
