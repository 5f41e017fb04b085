package store

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/units"
	bolt "go.etcd.io/bbolt"
)

// Provider is an upstream API instance; its name is the first URL segment
// of the requests the proxy forwards to it.
type Provider struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	BaseURL string `json:"base_url"`
	// AuthHeaders are templates ("Authorization: Bearer {key}") filled with the credential.
	AuthHeaders []string `json:"auth_headers"`
	// Headers are added to upstream requests that do not already carry them.
	Headers []string       `json:"headers"`
	Timeout units.Duration `json:"timeout"`           // 0: inherit from config
	CAFile  string         `json:"ca_file,omitempty"` // extra trusted CA (PEM) for private TLS upstreams
	// SessionHeader names the request header whose value keeps a
	// conversation on one credential (cache_affinity); "" means
	// DefaultSessionHeader.
	SessionHeader string    `json:"session_header,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// MonthlyCost caps what every key of the provider may spend in a
	// calendar month, in USD (0: no budget).
	MonthlyCost float64 `json:"monthly_cost,omitempty"`
}

// ProviderPatch changes the fields that are not nil.
type ProviderPatch struct {
	Type        *string         `json:"type,omitempty"`
	BaseURL     *string         `json:"base_url,omitempty"`
	AuthHeaders *[]string       `json:"auth_headers,omitempty"`
	Headers     *[]string       `json:"headers,omitempty"`
	Timeout     *units.Duration `json:"timeout,omitempty"`
	CAFile      *string         `json:"ca_file,omitempty"`
	// SessionHeader: "" restores the default.
	SessionHeader *string `json:"session_header,omitempty"`

	MonthlyCost *float64 `json:"monthly_cost,omitempty"` // 0: no budget
}

// DefaultSessionHeader is the header a client sets to name its
// conversation when its provider names none (cache_affinity).
const DefaultSessionHeader = "X-Aigw-Session"

// DefaultAuthHeaders is how each provider type expects its credential.
func DefaultAuthHeaders(typ string) []string {
	switch typ {
	case TypeAnthropic:
		return []string{"x-api-key: {key}"}
	case TypeGemini:
		return []string{"x-goog-api-key: {key}"}
	default:
		return []string{"Authorization: Bearer {key}"}
	}
}

// DefaultHeaders are added upstream when the client did not send them.
func DefaultHeaders(typ string) []string {
	if typ == TypeAnthropic {
		return []string{"anthropic-version: 2023-06-01"}
	}
	return nil
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// otherSetting names the first setting in which q differs from p, with
// p's value, or returns "" when they are the same provider.
func (p *Provider) otherSetting(q *Provider) (field, value string) {
	switch {
	case p.Type != q.Type:
		return "type", p.Type
	case p.BaseURL != q.BaseURL:
		return "base_url", p.BaseURL
	case !sameLines(p.AuthHeaders, q.AuthHeaders):
		return "auth_headers", fmt.Sprintf("%q", p.AuthHeaders)
	case !sameLines(p.Headers, q.Headers):
		return "headers", fmt.Sprintf("%q", p.Headers)
	case p.Timeout != q.Timeout && p.Timeout == 0:
		return "timeout", "default"
	case p.Timeout != q.Timeout:
		return "timeout", p.Timeout.String()
	case p.CAFile != q.CAFile:
		return "ca_file", fmt.Sprintf("%q", p.CAFile)
	case p.SessionHeader != q.SessionHeader:
		return "session_header", fmt.Sprintf("%q", p.SessionHeader)
	case p.MonthlyCost != q.MonthlyCost:
		return "monthly_cost", strconv.FormatFloat(p.MonthlyCost, 'f', -1, 64)
	}
	return "", ""
}

func (p *Provider) validate() error {
	if err := validProviderName(p.Name); err != nil {
		return err
	}
	if !oneOf(p.Type, ProviderTypes) {
		return invalid("type", "%q is not one of %s", p.Type, strings.Join(ProviderTypes, ", "))
	}
	if err := validBaseURL(p.BaseURL); err != nil {
		return err
	}
	if err := validAuthHeaders(p.AuthHeaders); err != nil {
		return err
	}
	if err := validHeaders(p.Headers); err != nil {
		return err
	}
	if err := validTimeout("timeout", p.Timeout); err != nil {
		return err
	}
	if err := validSessionHeader(p.SessionHeader); err != nil {
		return err
	}
	if err := ValidUSD("monthly_cost", p.MonthlyCost); err != nil {
		return err
	}
	return validCAFile(p.CAFile)
}

// maxCAFile bounds a ca_file read; CA bundles are a few hundred KiB.
const maxCAFile = 4 << 20

// validCAFile accepts a regular file of PEM certificates.
func validCAFile(path string) error {
	if path == "" {
		return nil
	}
	_, err := ReadCAFile(path)
	return err
}

// ReadCAFile reads a ca_file: a regular file of at most 4 MiB holding PEM
// certificates. Every failure (missing, unreadable, not a regular file,
// too large, no certificate) gets the same message, so that the admin API
// cannot be used to learn which files exist on the server.
func ReadCAFile(path string) ([]byte, error) {
	bad := invalid("ca_file", "not a readable PEM certificate file")
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxCAFile {
		return nil, bad
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, bad
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, maxCAFile))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, bad
	}
	return pem, nil
}

// CreateProvider stores a new provider. Missing auth headers and extra
// headers get the defaults of its type. Adding a provider that exists with
// the very same settings changes nothing and returns it, so that a set-up
// script can run again; one with other settings is refused (ErrExists).
func (s *Store) CreateProvider(p Provider) (Provider, error) {
	p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	if len(p.AuthHeaders) == 0 {
		p.AuthHeaders = DefaultAuthHeaders(p.Type)
	}
	if p.Headers == nil {
		p.Headers = DefaultHeaders(p.Type)
	}
	if err := p.validate(); err != nil {
		return Provider{}, err
	}
	p.CreatedAt = s.now().UTC()
	p.UpdatedAt = p.CreatedAt
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProviders)
		var cur Provider
		switch err := getJSON(b, []byte(p.Name), &cur); {
		case errors.Is(err, ErrNotFound):
			return putJSON(b, []byte(p.Name), &p)
		case err != nil:
			return fmt.Errorf("provider %q: %w", p.Name, err)
		}
		if field, value := cur.otherSetting(&p); field != "" {
			return fmt.Errorf("provider %q: %w with %s %s", p.Name, ErrExists, field, value)
		}
		p = cur
		return nil
	})
	if err != nil {
		return Provider{}, err
	}
	return p, nil
}

// Provider returns one provider by name.
func (s *Store) Provider(name string) (Provider, error) {
	var p Provider
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketProviders), []byte(name), &p); err != nil {
			return fmt.Errorf("provider %q: %w", name, err)
		}
		return nil
	})
	return p, err
}

// Providers lists all providers by name.
func (s *Store) Providers() ([]Provider, error) {
	out := []Provider{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listProviders(tx)
		return err
	})
	return out, err
}

func listProviders(tx *bolt.Tx) ([]Provider, error) {
	out := []Provider{}
	err := tx.Bucket(bucketProviders).ForEach(func(_, v []byte) error {
		var p Provider
		if err := jsonDecode(v, &p); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// RouteChangeError refuses a change of where or how a provider's
// credentials are sent (UpdateProviderSameRoute).
type RouteChangeError struct {
	Provider string
	Field    string // base_url, auth_headers, headers or ca_file
}

func (e *RouteChangeError) Error() string {
	return fmt.Sprintf("provider %q has credentials, and its %s decides where they are sent", e.Provider, e.Field)
}

// routeField names the first setting that decides where and how
// credentials are sent in which p and q differ, or "".
func routeField(p, q *Provider) string {
	switch {
	case p.BaseURL != q.BaseURL:
		return "base_url"
	case !sameLines(p.AuthHeaders, q.AuthHeaders):
		return "auth_headers"
	case !sameLines(p.Headers, q.Headers):
		return "headers"
	case p.CAFile != q.CAFile:
		return "ca_file"
	}
	return ""
}

// UpdateProvider applies patch to the named provider. When the type changes
// and the auth or extra headers are still the old type's defaults, they
// follow the new type.
func (s *Store) UpdateProvider(name string, patch ProviderPatch) (Provider, error) {
	return s.updateProvider(name, patch, false)
}

// UpdateProviderSameRoute is UpdateProvider for a caller that may not
// decide where credentials go: when the provider has credentials, a patch
// that changes its base_url, auth_headers, headers or ca_file (directly or
// through a type change) is refused with a *RouteChangeError, checked in
// the same transaction as the write.
func (s *Store) UpdateProviderSameRoute(name string, patch ProviderPatch) (Provider, error) {
	return s.updateProvider(name, patch, true)
}

func (s *Store) updateProvider(name string, patch ProviderPatch, sameRoute bool) (Provider, error) {
	var p Provider
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProviders)
		if err := getJSON(b, []byte(name), &p); err != nil {
			return fmt.Errorf("provider %q: %w", name, err)
		}
		before := p
		if patch.Type != nil && *patch.Type != p.Type {
			if sameLines(p.AuthHeaders, DefaultAuthHeaders(p.Type)) {
				p.AuthHeaders = DefaultAuthHeaders(*patch.Type)
			}
			if sameLines(p.Headers, DefaultHeaders(p.Type)) {
				p.Headers = DefaultHeaders(*patch.Type)
			}
			p.Type = *patch.Type
		}
		if patch.BaseURL != nil {
			p.BaseURL = strings.TrimRight(*patch.BaseURL, "/")
		}
		if patch.AuthHeaders != nil {
			p.AuthHeaders = *patch.AuthHeaders
			if len(p.AuthHeaders) == 0 {
				p.AuthHeaders = DefaultAuthHeaders(p.Type)
			}
		}
		if patch.Headers != nil {
			p.Headers = *patch.Headers
		}
		if patch.Timeout != nil {
			p.Timeout = *patch.Timeout
		}
		if patch.CAFile != nil {
			p.CAFile = *patch.CAFile
		}
		if patch.SessionHeader != nil {
			p.SessionHeader = *patch.SessionHeader
		}
		if patch.MonthlyCost != nil {
			p.MonthlyCost = *patch.MonthlyCost
		}
		if field := routeField(&before, &p); sameRoute && field != "" {
			has, err := hasCredentials(tx, name)
			if err != nil {
				return err
			}
			if has {
				return &RouteChangeError{Provider: name, Field: field}
			}
		}
		if err := p.validate(); err != nil {
			return err
		}
		p.UpdatedAt = s.now().UTC()
		return putJSON(b, []byte(name), &p)
	})
	if err != nil {
		return Provider{}, err
	}
	return p, nil
}

// DeleteProvider removes a provider that no active key and no credential uses.
func (s *Store) DeleteProvider(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProviders)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("provider %q: %w", name, ErrNotFound)
		}
		keys, err := listKeys(tx, s.now())
		if err != nil {
			return err
		}
		var users []string
		for _, k := range keys {
			if k.Provider == name && k.RevokedAt == nil {
				users = append(users, k.ID)
			}
		}
		if len(users) > 0 {
			return fmt.Errorf("provider %q is %w by keys %s (revoke them first)", name, ErrInUse, strings.Join(users, ", "))
		}
		creds, err := listCredentials(tx)
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range creds {
			if c.Provider == name {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) > 0 {
			sort.Strings(ids)
			return fmt.Errorf("provider %q is %w: it still has credentials %s (remove them first)", name, ErrInUse, strings.Join(ids, ", "))
		}
		// Revoked keys of this provider go with it.
		for _, k := range keys {
			if k.Provider == name {
				if err := deleteKey(tx, k.ID); err != nil {
					return err
				}
			}
		}
		return b.Delete([]byte(name))
	})
}

func hasCredentials(tx *bolt.Tx, provider string) (bool, error) {
	creds, err := listCredentials(tx)
	if err != nil {
		return false, err
	}
	for _, c := range creds {
		if c.Provider == provider {
			return true, nil
		}
	}
	return false, nil
}
