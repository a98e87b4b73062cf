// Package web serves sealocr's browser page from files embedded in the
// binary: GET / (the page) and GET /static/... (its script, style sheet and
// icon). The script is a bundle built at development time from src/ with
// esbuild and committed; nothing is fetched from elsewhere at run time, and
// the Content-Security-Policy allows this origin only.
//
// Behind the sidecar the page seals each image in the browser with
// Oblivious HTTP (RFC 9458) and sends it to /.well-known/ohttp-gateway;
// served by the core alone it posts to /v1/ocr in the clear and says so. It
// tells the two apart by GET /v1/auth-info (AuthInfoPath), which the sidecar
// answers itself; anything else than the core's own answer there (an error,
// a 429, no answer) never makes it post in the clear.
// With an OpenID Provider announced there, it also signs users in with the
// authorization code flow with PKCE and sends the ID token inside OHTTP.
// Rebuild the bundle with `npm ci && npm run build` in src/.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealocr/sealocr/core/api"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every file: scripts, styles, fetches and
// images from this origin only (images also from blob: URLs, for the picked
// file), no plugins, no framing, no forms posting elsewhere. The sidecar adds
// its OpenID Provider's token endpoint origin to connect-src when one is
// configured; nothing else.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Site serves the embedded files. It is immutable and safe for concurrent
// use.
type Site struct {
	files map[string]file // by URL path: "/" and "/static/..."
}

// New reads the embedded files once and hashes them for ETags.
func New() *Site {
	s := &Site{files: map[string]file{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		f := file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if p == "static/index.html" {
			s.files["/"] = f
			return nil
		}
		s.files["/"+p] = f
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: reading embedded files: " + err.Error())
	}
	return s
}

// AuthInfoPath is the path at which the page asks who serves it. The sidecar
// answers it itself ({"server":"sidecar","transport":"ohttp",...}); the
// core alone answers CoreAuthInfo. The page posts images in the clear only
// on the core's answer and on a loopback address.
const AuthInfoPath = api.AuthInfoPath

// CoreAuthInfo is the core's answer at AuthInfoPath: served by the core
// alone, plain requests, no authentication (the same fields as the
// sidecar's api.AuthInfo).
const CoreAuthInfo = `{"server":"core","transport":"plain","ohttp_gateway":"","auth":{"mode":"off","methods":[]}}` + "\n"

// Routes adds GET (and HEAD) /, /static/... and AuthInfoPath to r. Its signature fits
// httpapi.Options.ExtraRoutes.
func Routes(r *mux.Router) { New().Routes(r) }

// Routes adds the site's routes to r.
func (s *Site) Routes(r *mux.Router) {
	r.Handle("/", s).Methods(http.MethodGet, http.MethodHead)
	r.PathPrefix("/static/").Handler(s).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(AuthInfoPath, serveAuthInfo).Methods(http.MethodGet, http.MethodHead)
}

func serveAuthInfo(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(CoreAuthInfo))
}

// ServeHTTP serves one embedded file, or 404.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: the names carry no hash
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
