package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aigw/aigw/store"
	"github.com/golang-jwt/jwt/v5"
)

// Scopes are the admin permissions a token can carry; ScopeAdmin holds them all.
const (
	ScopeProvidersRead    = "providers:read"
	ScopeProvidersWrite   = "providers:write"
	ScopeCredentialsRead  = "credentials:read"
	ScopeCredentialsWrite = "credentials:write"
	ScopeKeysRead         = "keys:read"
	ScopeKeysWrite        = "keys:write"
	ScopeTracesRead       = "traces:read"
	ScopeUsageRead        = "usage:read"
	ScopeTokensRead       = "tokens:read"
	ScopeTokensWrite      = "tokens:write"
	ScopeMetricsRead      = "metrics:read"
	ScopeBackup           = "backup"
	ScopeAdmin            = "admin"
)

// AllScopes lists every scope, in the order of the documentation.
var AllScopes = []string{
	ScopeProvidersRead, ScopeProvidersWrite, ScopeCredentialsRead, ScopeCredentialsWrite,
	ScopeKeysRead, ScopeKeysWrite, ScopeTracesRead, ScopeUsageRead, ScopeTokensRead,
	ScopeTokensWrite, ScopeMetricsRead, ScopeBackup, ScopeAdmin,
}

// claims of an admin token: scope is space separated (RFC 8693 style).
type claims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// Tokens signs and verifies admin tokens (JWT, HS256). The signing secret is
// derived from the data directory's master key, so it never needs a file of
// its own; every token is also checked against its store record, which is
// what makes revocation work.
type Tokens struct {
	secret []byte
	store  *store.Store
	now    func() time.Time
}

// NewTokens derives the signing secret from masterKey.
func NewTokens(st *store.Store, masterKey []byte) *Tokens {
	mac := hmac.New(sha256.New, masterKey)
	mac.Write([]byte("aigw admin token signing key v1"))
	return &Tokens{secret: mac.Sum(nil), store: st, now: time.Now}
}

// Issue records and signs a new root token (one without a parent, such as
// the local admin.token).
func (t *Tokens) Issue(name string, scopes []string, ttl time.Duration) (store.AdminToken, string, error) {
	return t.issue("", name, scopes, ttl)
}

// issue records and signs a token created by parentID ("" for a root); the
// store cuts its expiry to the parent's when the parent is not a root.
func (t *Tokens) issue(parentID, name string, scopes []string, ttl time.Duration) (store.AdminToken, string, error) {
	if err := validScopes(scopes); err != nil {
		return store.AdminToken{}, "", err
	}
	rec, err := t.store.CreateChildToken(parentID, name, scopes, t.now().Add(ttl))
	if err != nil {
		return store.AdminToken{}, "", err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Scope: strings.Join(scopes, " "),
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        rec.ID,
			Issuer:    "aigw",
			IssuedAt:  jwt.NewNumericDate(rec.CreatedAt),
			ExpiresAt: jwt.NewNumericDate(rec.ExpiresAt),
		},
	})
	signed, err := tok.SignedString(t.secret)
	if err != nil {
		return store.AdminToken{}, "", err
	}
	return rec, signed, nil
}

var errBadToken = errors.New("invalid admin token")

// Verify checks the signature, expiry and the store record; it returns the
// record, whose scopes are authoritative.
func (t *Tokens) Verify(raw string) (store.AdminToken, error) {
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer("aigw"),
		jwt.WithTimeFunc(t.now))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return store.AdminToken{}, fmt.Errorf("%w: expired", errBadToken)
		}
		return store.AdminToken{}, errBadToken
	}
	rec, err := t.store.Token(c.ID)
	if err != nil {
		return store.AdminToken{}, errBadToken
	}
	if rec.Status != store.KeyActive {
		return store.AdminToken{}, fmt.Errorf("%w: %s", errBadToken, rec.Status)
	}
	return rec, nil
}

func validScopes(scopes []string) error {
	if len(scopes) == 0 {
		return &store.ValidationError{Field: "scopes", Msg: "give at least one scope (" + strings.Join(AllScopes, ", ") + ")"}
	}
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return &store.ValidationError{Field: "scopes", Msg: fmt.Sprintf("%q is not one of %s", s, strings.Join(AllScopes, ", "))}
		}
	}
	return nil
}

// hasScope reports whether granted covers want.
func hasScope(granted []string, want string) bool {
	return slices.Contains(granted, ScopeAdmin) || slices.Contains(granted, want)
}
