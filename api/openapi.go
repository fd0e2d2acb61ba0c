package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of the API, as served at
// /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// serveOpenAPI answers the document; it needs no token.
func serveOpenAPI(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = rw.Write(OpenAPI)
}
