package api

// AuthInfoPath is the sidecar's public description of what a client (the
// WebUI in particular) needs: GET or HEAD, no credentials, never rate-limited
// or forwarded to the core. It holds no secret.
const AuthInfoPath = "/v1/auth-info"

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
	// "Authorization: Bearer" field: "api_key" and/or "jwt". Empty when
	// Mode is "off".
	Methods []string `json:"methods"`
}
