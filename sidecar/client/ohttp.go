package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	wire "github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
)

// OHTTPKeys fetches the gateway's Oblivious HTTP key configurations and
// describes them. It lists every configuration with a supported KEM, whether
// or not it matches [Config.PinnedKeyFingerprint], so that a fingerprint can
// be chosen; the fetched list also refreshes the client's cache.
func (c *Client) OHTTPKeys(ctx context.Context) ([]KeyInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	cfgs, err := c.fetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(cfgs))
	for _, cfg := range cfgs {
		ki, err := keyInfo(cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
		}
		out = append(out, ki)
	}
	return out, nil
}

// fetchKeys GETs the key list and caches it.
func (c *Client) fetchKeys(ctx context.Context) ([]ohttp.PublicKeyConfig, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(c.base, GatewayPath).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sealocr client: %w", err)
	}
	req.Header.Set("Accept", ohttp.KeysMediaType)
	status, header, data, err := c.doLimit(req, maxKeyListBytes)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, outerError(status, header, data)
	}
	if mt := mediaType(header.Get("Content-Type")); mt != ohttp.KeysMediaType {
		return nil, fmt.Errorf("%w: key list has content type %q", ErrUnexpectedResponse, clean(mt))
	}
	cfgs, err := ohttp.ParseKeyList(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key list: %v", ErrUnexpectedResponse, err)
	}
	c.mu.Lock()
	c.cfgs, c.fetched = cfgs, time.Now()
	c.mu.Unlock()
	return cfgs, nil
}

// cachedKeys returns the cached key list if it is fresh, or fetches it.
func (c *Client) cachedKeys(ctx context.Context, refresh bool) ([]ohttp.PublicKeyConfig, error) {
	c.mu.Lock()
	cfgs, fetched := c.cfgs, c.fetched
	c.mu.Unlock()
	if !refresh && cfgs != nil && time.Since(fetched) < keyCacheTTL {
		return cfgs, nil
	}
	return c.fetchKeys(ctx)
}

// choose picks the configuration and suite to use from cfgs.
func (c *Client) choose(cfgs []ohttp.PublicKeyConfig) (ohttp.PublicKeyConfig, ohttp.SymmetricSuite, error) {
	candidates := cfgs
	if c.pin != "" {
		candidates = nil
		for _, cfg := range cfgs {
			if fp, err := fingerprint(cfg); err == nil && fp == c.pin {
				candidates = append(candidates, cfg)
			}
		}
		if len(candidates) == 0 {
			return ohttp.PublicKeyConfig{}, ohttp.SymmetricSuite{}, ErrKeyPinMismatch
		}
	}
	kems := []ohttp.KEM{c.kem}
	if c.kem == 0 {
		kems = []ohttp.KEM{ohttp.KEMX25519HKDFSHA256, ohttp.KEMMLKEM768X25519}
	}
	for _, kem := range kems {
		for _, cfg := range candidates {
			if cfg.KEM() != kem {
				continue
			}
			if s, ok := c.suite(cfg); ok {
				return cfg, s, nil
			}
		}
	}
	return ohttp.PublicKeyConfig{}, ohttp.SymmetricSuite{}, fmt.Errorf("%w: no gateway key configuration with a usable KEM and suite", ErrNoUsableKey)
}

// suite returns the preferred suite cfg offers.
func (c *Client) suite(cfg ohttp.PublicKeyConfig) (ohttp.SymmetricSuite, bool) {
	want := ohttp.SymmetricSuite{KDF: ohttp.KDFHKDFSHA256, AEAD: c.aead}
	if cfg.Supports(want) {
		return want, true
	}
	if c.aeadSet {
		return ohttp.SymmetricSuite{}, false
	}
	for _, s := range cfg.Suites() {
		if cfg.Supports(s) {
			return s, true
		}
	}
	return ohttp.SymmetricSuite{}, false
}

// ocrOHTTP encapsulates, sends and decapsulates one request; when the
// gateway reports an unknown key it refetches the keys once and retries.
func (c *Client) ocrOHTTP(ctx context.Context, target, contentType string, image []byte) (*Answer, error) {
	// Date lets the gateway bound how long it must remember the request to
	// refuse a replay (RFC 9458 section 6.5).
	header := []bhttp.Field{{Name: "content-type", Value: contentType},
		{Name: "date", Value: c.now().UTC().Format(http.TimeFormat)}}
	if c.cred != "" {
		header = append(header, bhttp.Field{Name: "authorization", Value: "Bearer " + c.cred})
	}
	inner, err := (&bhttp.Request{
		Method:    http.MethodPost,
		Scheme:    "https",
		Authority: c.base.Host,
		Path:      target,
		Header:    header,
		Content:   image,
	}).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("sealocr client: encode request: %w", err)
	}
	post := endpoint(c.base, GatewayPath)
	if c.relay != nil {
		post = c.relay
	}
	for attempt := 0; ; attempt++ {
		cfgs, err := c.cachedKeys(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		cfg, suite, err := c.choose(cfgs)
		if err != nil {
			return nil, err
		}
		enc, cctx, err := ohttp.EncapsulateRequest(cfg, suite, inner)
		if err != nil {
			return nil, fmt.Errorf("sealocr client: encapsulate request: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, post.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("sealocr client: %w", err)
		}
		setBody(req, enc)
		req.Header.Set("Content-Type", ohttp.RequestMediaType)
		req.Header.Set("Accept", ohttp.ResponseMediaType)
		status, header, data, err := c.do(req)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			e := outerError(status, header, data)
			if e.Code == codeKeyUnknown && attempt == 0 {
				continue
			}
			return nil, e
		}
		if mt := mediaType(header.Get("Content-Type")); mt != ohttp.ResponseMediaType {
			return nil, fmt.Errorf("%w: unexpected content type %q", ErrOpenResponse, clean(mt))
		}
		pt, err := cctx.DecapsulateResponse(data)
		if err != nil {
			return nil, ErrOpenResponse
		}
		res, err := bhttp.ParseResponse(pt, bhttp.Limits{MaxContent: int(c.maxResp)})
		if err != nil {
			return nil, fmt.Errorf("%w: inner response is not valid Binary HTTP", ErrOpenResponse)
		}
		ct, retryAfter := "", ""
		for _, f := range res.Header {
			switch http.CanonicalHeaderKey(f.Name) {
			case "Content-Type":
				ct = f.Value
			case wire.HeaderRetryAfter:
				retryAfter = f.Value
			}
		}
		out, err := innerResult(res.Status, ct, res.Content)
		return out, withRetryAfter(err, retryAfter)
	}
}
