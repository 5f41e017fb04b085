package proxy

import (
	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/cespare/xxhash/v2"
)

// Where a cache_affinity request's conversation key came from (the
// trace's affinity field).
const (
	affinityHeader       = "header"
	affinityUserID       = "metadata.user_id"
	affinityCacheKey     = "prompt_cache_key"
	affinityPrevResponse = "previous_response_id"
	affinityPrefix       = "prefix"
	affinityNoBody       = "none: the request has no body"
	affinityOneCred      = "none: the pool has one credential"
)

// maxSessionValue bounds a session header's value; a longer one is
// ignored (the body decides).
const maxSessionValue = 512

// affinity is the request's conversation key for a cache_affinity pool,
// in this order: the provider's session header, the body's own session
// field (Anthropic metadata.user_id, OpenAI prompt_cache_key or
// previous_response_id), a hash of the leading prompt. 0 means none: the
// pool then picks as health_best does. The trace says which it was, or
// why there was none. Keys with another strategy skip all of it, and so
// does a pool of one credential (there is nothing to choose: the body is
// not read).
func (x *exchange) affinity() uint64 {
	if x.pool.pool.Strategy() != scheduler.CacheAffinity {
		return 0
	}
	if x.pool.pool.Len() < 2 {
		if x.trace != nil {
			x.trace.Affinity = affinityOneCred
		}
		return 0
	}
	h, src := x.conversationKey()
	if x.trace != nil {
		x.trace.Affinity = src
	}
	return h
}

func (x *exchange) conversationKey() (uint64, string) {
	if v := x.ctx.Request.Header.PeekBytes(x.prov.session); len(v) > 0 && len(v) <= maxSessionValue {
		return nonZero(xxhash.Sum64(v)), affinityHeader
	}
	body := x.ctx.Request.Body()
	if len(body) == 0 {
		return 0, affinityNoBody
	}
	s := usage.ReadSession(body)
	switch {
	case len(s.UserID) > 0:
		return nonZero(xxhash.Sum64(s.UserID)), affinityUserID
	case len(s.PromptCacheKey) > 0:
		return nonZero(xxhash.Sum64(s.PromptCacheKey)), affinityCacheKey
	case len(s.PreviousResponseID) > 0:
		return nonZero(xxhash.Sum64(s.PreviousResponseID)), affinityPrevResponse
	case s.Prefix != 0:
		return s.Prefix, affinityPrefix
	}
	return 0, "none: " + s.PrefixMissing
}

func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}
