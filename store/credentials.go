package store

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Credential kinds.
const (
	KindAPIKey = "api_key"
	KindOAuth  = "oauth"
	// KindDamaged is a credential whose stored record does not decode:
	// only its id is known. It can be removed; Load reports it broken.
	KindDamaged = "damaged"
)

// Credential is one real upstream secret of the operator. Secret and
// RefreshToken are never encoded to JSON; at rest they are sealed.
type Credential struct {
	ID        string     `json:"id"`
	Provider  string     `json:"provider"`
	Name      string     `json:"name"`
	Kind      string     `json:"kind"`
	Preview   string     `json:"preview"`
	Weight    int        `json:"weight"`
	RPM       int64      `json:"rpm"` // 0: no own limit
	Enabled   bool       `json:"enabled"`
	OAuth     *OAuthInfo `json:"oauth,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`

	// MonthlyCost caps what the credential may cost in a calendar month, in
	// USD (0: no budget); spent, it leaves rotation until the month ends.
	MonthlyCost float64 `json:"monthly_cost,omitempty"`

	Secret       string `json:"-"` // the API key or OAuth access token
	RefreshToken string `json:"-"`
}

// OAuthInfo is the non-secret part of an OAuth credential.
type OAuthInfo struct {
	TokenURL  string     `json:"token_url"`
	ClientID  string     `json:"client_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // of the access token
	// The last refresh: when, how it went (RefreshOK, RefreshInvalidGrant,
	// …) and, unless it went well, why, in one line without any secret.
	LastRefreshAt    *time.Time `json:"last_refresh_at,omitempty"`
	RefreshState     string     `json:"refresh_state,omitempty"`
	LastRefreshError string     `json:"last_refresh_error,omitempty"`
}

// CredentialInput creates a credential.
type CredentialInput struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	Secret   string `json:"secret"`
	Weight   *int   `json:"weight,omitempty"` // default 1
	RPM      int64  `json:"rpm"`
	// MonthlyCost: USD per calendar month (0: no budget).
	MonthlyCost float64 `json:"monthly_cost,omitempty"`
	// OAuth credentials: Secret is the access token.
	OAuthTokenURL     string     `json:"oauth_token_url,omitempty"`
	OAuthRefreshToken string     `json:"oauth_refresh_token,omitempty"`
	OAuthClientID     string     `json:"oauth_client_id,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
}

// CredentialPatch changes the fields that are not nil.
type CredentialPatch struct {
	Name    *string `json:"name,omitempty"`
	Weight  *int    `json:"weight,omitempty"`
	RPM     *int64  `json:"rpm,omitempty"`
	Enabled *bool   `json:"enabled,omitempty"`
	Secret  *string `json:"secret,omitempty"` // rotate the secret
	// OAuth credentials only (see store/oauth.go).
	OAuthTokenURL     *string    `json:"oauth_token_url,omitempty"`
	OAuthRefreshToken *string    `json:"oauth_refresh_token,omitempty"`
	OAuthClientID     *string    `json:"oauth_client_id,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`

	// MonthlyCost: USD per calendar month (0: no budget).
	MonthlyCost *float64 `json:"monthly_cost,omitempty"`
}

// credentialRecord is the stored form: the public fields plus the sealed secrets.
type credentialRecord struct {
	Credential
	SealedSecret  []byte `json:"sealed_secret"`
	SealedRefresh []byte `json:"sealed_refresh_token,omitempty"`
}

const maxWeight = 1000

func validSecret(field, s string) error {
	if s == "" {
		return invalid(field, "must not be empty")
	}
	if len(s) > 16<<10 {
		return invalid(field, "is longer than 16 KiB")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return invalid(field, "contains whitespace or control characters (a trailing newline?)")
		}
	}
	return nil
}

func validWeight(w int) error {
	if w < 1 || w > maxWeight {
		return invalid("weight", "%d must be between 1 and %d", w, maxWeight)
	}
	return nil
}

func (in *CredentialInput) validate() error {
	if in.Provider == "" {
		return invalid("provider", "must not be empty")
	}
	if err := validName("name", in.Name, false); err != nil {
		return err
	}
	if err := validSecret("secret", in.Secret); err != nil {
		return err
	}
	if in.Weight != nil {
		if err := validWeight(*in.Weight); err != nil {
			return err
		}
	}
	if err := validLimit("rpm", in.RPM); err != nil {
		return err
	}
	if err := ValidUSD("monthly_cost", in.MonthlyCost); err != nil {
		return err
	}
	oauth := in.OAuthTokenURL != "" || in.OAuthRefreshToken != "" || in.OAuthClientID != ""
	if !oauth {
		if in.ExpiresAt != nil {
			return invalid("expires_at", "only applies to OAuth credentials (give --oauth-token-url and --oauth-refresh-token)")
		}
		return nil
	}
	if in.OAuthTokenURL == "" {
		return invalid("oauth_token_url", "is required for an OAuth credential")
	}
	if u, err := url.Parse(in.OAuthTokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("oauth_token_url", "%q must be an http(s) URL", in.OAuthTokenURL)
	}
	return validSecret("oauth_refresh_token", in.OAuthRefreshToken)
}

// CreateCredential stores a new credential of an existing provider.
func (s *Store) CreateCredential(in CredentialInput) (Credential, error) {
	if err := in.validate(); err != nil {
		return Credential{}, err
	}
	now := s.now().UTC()
	c := Credential{
		ID: newID("cred_"), Provider: in.Provider, Name: in.Name, Kind: KindAPIKey,
		Preview: preview(in.Secret), Weight: 1, RPM: in.RPM, MonthlyCost: in.MonthlyCost, Enabled: true,
		CreatedAt: now, UpdatedAt: now, Secret: in.Secret,
	}
	if in.Weight != nil {
		c.Weight = *in.Weight
	}
	if in.OAuthTokenURL != "" {
		c.Kind = KindOAuth
		c.RefreshToken = in.OAuthRefreshToken
		c.OAuth = &OAuthInfo{TokenURL: in.OAuthTokenURL, ClientID: in.OAuthClientID, ExpiresAt: utcPtr(in.ExpiresAt)}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketProviders).Get([]byte(c.Provider)) == nil {
			return fmt.Errorf("provider %q: %w", c.Provider, ErrNotFound)
		}
		if same, ok := s.sameCredential(tx, &c); ok {
			c = same // added again: the one there is (a script may run twice)
			return nil
		}
		return s.putCredential(tx, &c)
	})
	if err != nil {
		return Credential{}, err
	}
	return c, nil
}

// sameCredential finds an API-key credential of c's provider with c's name
// and secret: adding it again returns it rather than a duplicate. (OAuth
// credentials carry tokens that change; each add is a new one.)
func (s *Store) sameCredential(tx *bolt.Tx, c *Credential) (Credential, bool) {
	if c.Kind != KindAPIKey {
		return Credential{}, false
	}
	var found Credential
	_ = tx.Bucket(bucketCredentials).ForEach(func(k, v []byte) error {
		var rec credentialRecord
		if json.Unmarshal(v, &rec) != nil || rec.Provider != c.Provider || rec.Name != c.Name || rec.Kind != KindAPIKey {
			return nil
		}
		secret, err := s.sealer.open(rec.SealedSecret, rec.ID)
		if err != nil || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
			return nil
		}
		found = rec.Credential
		found.Secret = secret
		return errFound
	})
	return found, found.ID != ""
}

// errFound ends a ForEach early.
var errFound = errors.New("found")

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Store) putCredential(tx *bolt.Tx, c *Credential) error {
	rec := credentialRecord{Credential: *c, SealedSecret: s.sealer.seal(c.Secret, c.ID)}
	if c.RefreshToken != "" {
		rec.SealedRefresh = s.sealer.seal(c.RefreshToken, c.ID+"/refresh")
	}
	return putJSON(tx.Bucket(bucketCredentials), []byte(c.ID), &rec)
}

func (s *Store) getCredential(tx *bolt.Tx, id string, unseal bool) (Credential, error) {
	var rec credentialRecord
	switch err := getJSON(tx.Bucket(bucketCredentials), []byte(id), &rec); {
	case err != nil && !unseal && !errors.Is(err, ErrNotFound):
		return Credential{ID: id, Kind: KindDamaged}, nil
	case err != nil:
		return Credential{}, fmt.Errorf("credential %q: %w", id, err)
	}
	c := rec.Credential
	if unseal {
		var err error
		if c.Secret, err = s.sealer.open(rec.SealedSecret, c.ID); err != nil {
			return Credential{}, fmt.Errorf("credential %s: %w", id, &unsealError{what: "secret"})
		}
		if c.RefreshToken, err = s.sealer.open(rec.SealedRefresh, c.ID+"/refresh"); err != nil {
			return Credential{}, fmt.Errorf("credential %s: %w", id, &unsealError{what: "refresh token"})
		}
	}
	return c, nil
}

// unsealError names the sealed value of a credential that did not open.
// Open has checked the master key, so it means a damaged record.
type unsealError struct{ what string }

func (e *unsealError) Error() string { return "its " + e.what + ": " + errUnseal.Error() }

// reason is what the operator sees, with the way to repair the record.
func (e *unsealError) reason(id string) string {
	fix := "set a new one: aigw credential update " + id + " --secret-stdin"
	if e.what != "secret" {
		fix = "remove the credential and add it again"
	}
	return "its " + e.what + " does not unseal (damaged record); " + fix
}
func (e *unsealError) Unwrap() error { return errUnseal }

// Credential returns one credential without its secrets.
func (s *Store) Credential(id string) (Credential, error) {
	var c Credential
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		c, err = s.getCredential(tx, id, false)
		return err
	})
	return c, err
}

// listCredentials decodes the public part of every credential, sorted by provider, then creation.
func listCredentials(tx *bolt.Tx) ([]Credential, error) {
	out := []Credential{}
	err := tx.Bucket(bucketCredentials).ForEach(func(k, v []byte) error {
		var rec credentialRecord
		if err := jsonDecode(v, &rec); err != nil {
			out = append(out, Credential{ID: string(k), Kind: KindDamaged})
			return nil
		}
		out = append(out, rec.Credential)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out, err
}

// UpdateCredential applies patch; a new secret is sealed like the first.
func (s *Store) UpdateCredential(id string, patch CredentialPatch) (Credential, error) {
	if patch.Name != nil {
		if err := validName("name", *patch.Name, false); err != nil {
			return Credential{}, err
		}
	}
	if patch.Weight != nil {
		if err := validWeight(*patch.Weight); err != nil {
			return Credential{}, err
		}
	}
	if patch.RPM != nil {
		if err := validLimit("rpm", *patch.RPM); err != nil {
			return Credential{}, err
		}
	}
	if patch.MonthlyCost != nil {
		if err := ValidUSD("monthly_cost", *patch.MonthlyCost); err != nil {
			return Credential{}, err
		}
	}
	if patch.Secret != nil {
		if err := validSecret("secret", *patch.Secret); err != nil {
			return Credential{}, err
		}
	}
	if err := patch.validateOAuth(); err != nil {
		return Credential{}, err
	}
	var c Credential
	err := s.db.Update(func(tx *bolt.Tx) error {
		// The sealed values are kept as they are unless replaced, so that a
		// credential whose secret no longer unseals can still be given a
		// new one (or be disabled, renamed, …).
		var rec credentialRecord
		if err := getJSON(tx.Bucket(bucketCredentials), []byte(id), &rec); err != nil {
			return fmt.Errorf("credential %q: %w", id, err)
		}
		c = rec.Credential
		if patch.Name != nil {
			c.Name = *patch.Name
		}
		if patch.Weight != nil {
			c.Weight = *patch.Weight
		}
		if patch.RPM != nil {
			c.RPM = *patch.RPM
		}
		if patch.MonthlyCost != nil {
			c.MonthlyCost = *patch.MonthlyCost
		}
		if patch.Enabled != nil {
			c.Enabled = *patch.Enabled
		}
		if patch.Secret != nil {
			c.Preview = preview(*patch.Secret)
			rec.SealedSecret = s.sealer.seal(*patch.Secret, c.ID)
		}
		if err := s.applyOAuth(&rec, &c, &patch); err != nil {
			return err
		}
		c.UpdatedAt = s.now().UTC()
		rec.Credential = c
		return putJSON(tx.Bucket(bucketCredentials), []byte(c.ID), &rec)
	})
	if err != nil {
		return Credential{}, err
	}
	return c, nil
}

// SetOAuthTokens stores the tokens of a refreshed OAuth credential.
// An empty refreshToken keeps the current one.
func (s *Store) SetOAuthTokens(id, accessToken, refreshToken string, expiresAt *time.Time) error {
	if err := validSecret("access_token", accessToken); err != nil {
		return err
	}
	return s.RecordOAuthRefresh(id, OAuthRefresh{State: RefreshOK, AccessToken: accessToken, RefreshToken: refreshToken, ExpiresAt: expiresAt})
}

// DeleteCredential removes a credential that no active key uses; revoked
// keys drop it from their pools.
func (s *Store) DeleteCredential(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCredentials)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("credential %q: %w", id, ErrNotFound)
		}
		keys, err := listKeys(tx, s.now())
		if err != nil {
			return err
		}
		var users []string
		for _, k := range keys {
			if k.RevokedAt == nil && slices.Contains(k.Credentials, id) {
				users = append(users, k.ID)
			}
		}
		if len(users) > 0 {
			return fmt.Errorf("credential %s is %w by keys %s (take it out of their pools or revoke them first)", id, ErrInUse, strings.Join(users, ", "))
		}
		for _, k := range keys {
			if slices.Contains(k.Credentials, id) {
				rec, err := getKeyRecord(tx, k.ID)
				if err != nil {
					return err
				}
				rec.Credentials = slices.DeleteFunc(rec.Credentials, func(c string) bool { return c == id })
				if err := putJSON(tx.Bucket(bucketKeys), []byte(k.ID), rec); err != nil {
					return err
				}
			}
		}
		return b.Delete([]byte(id))
	})
}
