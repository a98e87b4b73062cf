package api

import coreapi "github.com/sealocr/sealocr/core/api"

// AuthInfoPath is the sidecar's public description of what a client (the
// WebUI in particular) needs: GET or HEAD, no credentials, never rate-limited
// or forwarded to the core. It holds no secret.
const AuthInfoPath = coreapi.AuthInfoPath

// AuthInfo is the body of GET AuthInfoPath. The core serving its WebUI on
// its own answers the same path with Server "core" and Transport "plain";
// the page posts plainly only then.
type AuthInfo struct {
	// Server is "sidecar" (the core alone answers "core").
	Server string `json:"server"`
	// Transport is how the WebUI must send images: "ohttp" behind the
	// sidecar (the core alone: "plain").
	Transport string `json:"transport"`
	// OHTTPGateway is the Oblivious HTTP gateway and key configuration
	// resource.
	OHTTPGateway string `json:"ohttp_gateway"`
	// Auth is what OHTTP requests need.
	Auth AuthInfoAuth `json:"auth"`
}

// AuthInfoAuth describes the authentication of OHTTP requests.
type AuthInfoAuth struct {
	// Mode is "off", "optional" or "required".
	Mode string `json:"mode"`
	// Methods are the credentials accepted in the inner request's
	// "Authorization: Bearer" field: "api_key", "jwt" and/or "oidc" (an ID
	// token of the OpenID Provider described by OIDC). Empty when Mode is
	// "off".
	Methods []string `json:"methods"`
	// OIDC is the OpenID Provider a user signs in with, present when
	// Methods holds "oidc".
	OIDC *AuthInfoOIDC `json:"oidc,omitempty"`
}

// AuthInfoOIDC describes the OpenID Provider for the WebUI's sign-in:
// the authorization code flow with PKCE (S256) of a public client, whose
// ID token (aud = ClientID) is the bearer credential. No secret.
type AuthInfoOIDC struct {
	// Issuer is the provider's issuer URL (the iss of its tokens).
	Issuer string `json:"issuer"`
	// ClientID is the WebUI's client ID at the provider.
	ClientID string `json:"client_id"`
	// Scopes are the scopes to ask for (openid among them).
	Scopes []string `json:"scopes"`
	// AuthorizationEndpoint and TokenEndpoint come from the provider's
	// discovery document; empty until the sidecar could fetch it.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
}
